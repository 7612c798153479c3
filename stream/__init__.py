"""How messages move and where they land: contract, transports, worker, sinks, CLI."""
