"""BLS open-data pipeline: mirror, population, reports (see README.md)."""

APP_NAME = "bls-pipeline"
__version__ = "0.1.0"
