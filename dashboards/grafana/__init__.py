"""Grafana dashboards, alert rules and provisioning files as code."""
