"""Chalice app: thin handlers only; the logic lives in chalicelib/."""

from chalice import Chalice

from chalicelib import web

app = Chalice(app_name="bls-pipeline")
app.register_blueprint(web.api)

# Scheduled ingestion and the SQS analysis handler: added by the pipeline issue.
