"""A stand-in for the Glue runtime's `awsglue` entry shim (not on PyPI), for the entry-point test.

Only what glue_jobs/telemetry_rollup.py's `main()` touches, and how it differs from AWS Glue 5.0:
- `getResolvedOptions` parses `--NAME value` pairs from argv and fails on a missing one, as Glue's
  does; Glue's also adds JOB_ID/JOB_RUN_ID and accepts `--NAME=value`.
- `GlueContext` only hands out the SparkSession of the SparkContext it wraps; Glue's adds the
  Data Catalog integration, DynamicFrames and EMRFS for s3:// paths (the test maps s3:// to a
  local folder through Hadoop's ViewFileSystemOverloadScheme instead).
- `Job.init`/`Job.commit` only record the calls; Glue's keep job bookmarks, which the stack does
  not enable (the job reads with plain Spark and keeps its own input fingerprints).
"""
