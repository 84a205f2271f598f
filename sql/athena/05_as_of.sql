-- What time is "now" for the named queries that look back from the present? One row: `as_of`.
-- In AWS the current time (UTC); `lake demo` replaces this view with the data's last
-- timestamp, like analytics.as_of in Redshift, so "last N days" answers are meaningful there.
CREATE OR REPLACE VIEW as_of AS
SELECT CAST(current_timestamp AS timestamp) AS as_of
