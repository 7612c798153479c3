"""Particle size distribution of metal spheres by Mie inversion: lognormal and NNLS."""
