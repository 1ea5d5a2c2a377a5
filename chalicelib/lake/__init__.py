"""The silver layer: typed Parquet of the mirrored BLS files and the population (see docs/lake.md)."""
