-- What time is "now" for the views that look back from the present? One row: `as_of`.
-- Every view that depends on the current time reads it from here, never from GETDATE()
-- itself: in AWS it is the current time (UTC); `lake demo` replaces this view with the
-- data's last timestamp, so inactivity and "last N days" answers stay meaningful on old data.
CREATE OR REPLACE VIEW analytics.as_of AS
SELECT CAST(GETDATE() AS TIMESTAMP) AS as_of;
