"""Alerting: thresholds, change points, alert state and notifiers (Slack, console)."""
