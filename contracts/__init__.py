"""What every stage of tare shares, and nothing else: the Graphite path scheme, the run
manifest, the states of runs, campaigns and alerts, the KPI registry, the service addresses,
the error kinds and their exit codes, and three primitives every stage needs the same way
(stopping a process group, a SQLite transaction, a duration for people).

This package imports nothing from the rest of the project; every other package may import it.
"""
