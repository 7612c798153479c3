"""pyvisa-sim device definitions of the SCPI impedance instruments (see lcr_sim.yaml)."""
