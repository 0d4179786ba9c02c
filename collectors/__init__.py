"""Collectors: collectd config and plugin, the standalone collector, the carbon sender."""
