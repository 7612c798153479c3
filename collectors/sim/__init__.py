"""Seeded simulators with ground truth: gold, silver and rods by Mie/Gans optics, Stöber silica,
injected faults."""
