-- Where do the transactional tables (robots, procedures, outcomes, maintenance) come from?
-- Federated query schema `rds` over RDS PostgreSQL schema `public`.
CREATE EXTERNAL SCHEMA IF NOT EXISTS rds
FROM POSTGRES
DATABASE '{{RDS_DATABASE}}' SCHEMA 'public'
URI '{{RDS_HOST}}' PORT {{RDS_PORT}}
IAM_ROLE '{{SPECTRUM_ROLE_ARN}}'
SECRET_ARN '{{RDS_SECRET_ARN}}';
