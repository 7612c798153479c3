"""UV-Vis instrument exports: parsers that turn a file into spectra."""
