-- Where does the ingest bookkeeping (ledger, parked rows) come from?
-- Federated query schema `rds_etl` over RDS PostgreSQL schema `etl`.
CREATE EXTERNAL SCHEMA IF NOT EXISTS rds_etl
FROM POSTGRES
DATABASE '{{RDS_DATABASE}}' SCHEMA 'etl'
URI '{{RDS_HOST}}' PORT {{RDS_PORT}}
IAM_ROLE '{{SPECTRUM_ROLE_ARN}}'
SECRET_ARN '{{RDS_SECRET_ARN}}';
