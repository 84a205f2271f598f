"""Analytics on one machine: DuckDB for Redshift and Athena, Spark local mode for the Glue rollup, alerts."""
