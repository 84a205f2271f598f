"""The ingest Lambda: S3 object -> validated, pseudonymized rows in RDS / Parquet, rejects in quarantine.

Modules, one job each: `config` (environment), `routing` (key -> entity/format), `source` (S3 object
and its identity), `reader` (streamed record batches), `validate` (contract rules, vectorized),
`pseudonymize` (PHI), `rds_loader` (COPY + upsert + parking), `lake_writer` (Parquet + Glue),
`quarantine` (rejects), `ledger` (one row per object identity), `pipeline` (one object end to end),
`handler` (the SQS batch entry point).
"""
