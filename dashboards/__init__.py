"""Dashboards: Python that builds Grafana dashboard JSON."""
