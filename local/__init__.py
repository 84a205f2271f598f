"""Local mode: the same ingest, rollup, alert and API code on one machine (moto, a throwaway
PostgreSQL, Spark local mode, DuckDB).

`stack/` (the AWS stand-ins and the database), `runtime/` (the Lambda runtime: events, handler
loading, queue workers, dead letters), `analytics/` (DuckDB, Spark, the Glue rollup, the alert
path), `report/` (what a run shows); the commands (`commands.py`, `demo.py`, `local_run.py`,
`api_server.py`) on top, and what all of them share (`workdir.py`, `exceptions.py`,
`console.py`, `tabular.py`). The `lake` command's argument parsing is in `cli/`.
"""
