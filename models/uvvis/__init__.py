"""UV-Vis features, preprocessing, co-adding and shape (rods, aggregation)."""
