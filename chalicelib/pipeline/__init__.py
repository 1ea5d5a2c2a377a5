"""The pipeline: event definitions, ingestion, analysis and the Lambda entry points."""
