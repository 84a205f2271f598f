"""The query API: one FastAPI app served by API Gateway + Lambda in AWS and by `lake serve` locally.

Modules: `principal` (who asks, from Cognito claims or a local token), `scope` (the one place
that confines every query to the principal's facilities), `catalog` (what each endpoint reads,
derived from `lake.contract` and `sql/redshift/`), `queries` (filters, pagination), `engines`
(PostgreSQL, the Redshift Data API, local DuckDB), `app` (routes, JSON/CSV, problem+json).
"""
