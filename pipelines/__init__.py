"""Resilient ETL: files (and later HTTP and SQL) in, contract-clean Parquet out, every row accounted for."""
