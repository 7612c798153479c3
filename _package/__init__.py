"""synthwatch: watch nanoparticle syntheses while they happen.

The import package is assembled from the repository's top-level folders:
``contract/`` → :mod:`synthwatch.contract`,
``collectors/`` → :mod:`synthwatch.collectors`, ``stream/`` → :mod:`synthwatch.stream`,
``models/`` → :mod:`synthwatch.models`, ``dashboards/`` → :mod:`synthwatch.dashboards`.
See docs/architecture.md for the rules of who may import whom.
"""

__version__ = "0.1.0"
