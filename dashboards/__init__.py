"""How people see it: Grafana dashboards, alert rules and run reports as code."""
