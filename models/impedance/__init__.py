"""Impedance: equivalent circuits, their fits, Kramers-Kronig checks and label calibration."""
