"""Live instrument drivers (pyvisa)."""
