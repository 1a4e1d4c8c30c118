"""Engines other than the embedded DuckDB that run the same rule packs (Apache Spark)."""
