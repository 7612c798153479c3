"""The InfluxDB queries (InfluxQL and Flux) the dashboards and alert rules run, and the layout they
read."""
