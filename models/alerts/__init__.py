"""Alert rules and the alert engine: thresholds, control-chart rules, golden batch, sensor
quality."""
