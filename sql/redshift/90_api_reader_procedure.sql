-- Who do the query API's Data API calls run as? The function's IAM role maps to the Redshift user
-- IAMR:<role name>. This procedure creates that user once (no password: IAM authentication only)
-- and lets it read the external schemas the API's statements read (each view's defining query runs
-- over them, confined to the caller's facilities by the API; rds_etl only serves admins there).
-- Deploy-only (not run by the local engine): DuckDB has no users.
CREATE OR REPLACE PROCEDURE analytics.grant_api_reader(db_user VARCHAR(128))
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_user WHERE usename = db_user) THEN
        EXECUTE 'CREATE USER ' || quote_ident(db_user) || ' PASSWORD DISABLE';
    END IF;
    EXECUTE 'GRANT USAGE ON SCHEMA lake, rds, rds_etl, analytics TO ' || quote_ident(db_user);
END;
$$ LANGUAGE plpgsql;
