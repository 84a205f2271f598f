-- Where do the trend views live? Schema `analytics` (the views below are late-binding).
CREATE SCHEMA IF NOT EXISTS analytics;
