"""`GlueContext` (see the package docstring for how it differs from Glue's)."""

from __future__ import annotations

from typing import Any


class GlueContext:
    def __init__(self, spark_context: Any) -> None:
        from pyspark.sql import SparkSession

        self.spark_session = SparkSession(spark_context)
