"""The local stack: Graphite (carbon + graphite-web) and collectd as subprocesses."""
