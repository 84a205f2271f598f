-- Where do the lake tables (telemetry, hourly rollups, anomalies) come from in Redshift?
-- Spectrum external schema `lake` over the Glue database the ingest and the Glue job register.
CREATE EXTERNAL SCHEMA IF NOT EXISTS lake
FROM DATA CATALOG
DATABASE '{{GLUE_DATABASE}}'
IAM_ROLE '{{SPECTRUM_ROLE_ARN}}';
