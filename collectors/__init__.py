"""Where readings come from: simulators, instrument drivers, file parsers, replay sources."""
