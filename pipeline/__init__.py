"""Pipeline: Graphite render API to pandas, steady-state summaries, overhead versus baseline."""
