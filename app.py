"""Chalice app: thin handlers only; the logic lives in chalicelib/ (see docs/pipeline.md).

- `ingest` (daily): mirror the BLS directories, then fetch the population.
- `ingest_continue` (SQS continuation queue): go on with a mirror run the time limit cut short.
- `analyze` (SQS, one message at a time): S3 wrote a report input → compute the reports.
- `lake` (SQS, one message at a time): a bronze file changed → its silver Parquet (docs/lake.md).
- HTTP routes: the `chalicelib.web.routes` blueprint.

Settings are read inside the handlers (Chalice sets the config's environment
variables around each invocation in tests). The one value read at import is the
queue ARN, because Chalice needs it while it builds the deployment: Path 2
(`chalice deploy`) gets it from `.chalice/config.json` (written by
`infra/write_chalice_config.py`); Path 1 (`cdk deploy`) overrides it in the
stack, so the placeholder below only serves tests and `chalice local`.
"""

import os

from chalice import Chalice, Rate

from chalicelib.pipeline import handlers
from chalicelib.web import routes as web
from chalicelib.web.auth import gateway as sign_in_gateway  # issue 22
from chalicelib.web.auth import routes as sign_in_routes  # issue 22

# A syntactically valid ARN that names no real queue (account 000000000000).
PLACEHOLDER_QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:bls-pipeline-analysis-placeholder"
PLACEHOLDER_CONTINUATION_ARN = "arn:aws:sqs:us-east-1:000000000000:bls-pipeline-continuation-placeholder"
ANALYSIS_QUEUE_ARN = os.environ.get("ANALYSIS_QUEUE_ARN") or PLACEHOLDER_QUEUE_ARN
CONTINUATION_QUEUE_ARN = os.environ.get("CONTINUATION_QUEUE_ARN") or PLACEHOLDER_CONTINUATION_ARN
LAKE_QUEUE_ARN = os.environ.get("LAKE_QUEUE_ARN") or PLACEHOLDER_QUEUE_ARN.replace("analysis", "lake")

# configure_logs=False: Chalice would otherwise set the "bls-pipeline" logger (the one our
# structured logger uses) to ERROR and print plain lines to stdout.
app = Chalice(app_name="bls-pipeline", configure_logs=False)
app.register_blueprint(web.api)
app.register_blueprint(sign_in_routes.register(web.AUTH_MODE, web.AUTHORIZER))  # issue 22: /auth/*


def api_entry(event, context):
    """The API handler's entry with API_AUTH=cognito (infra/auth_api.py sets it): API Gateway's TOKEN
    authorizer events go to the session check, everything else to the Chalice app."""
    if sign_in_gateway.is_authorizer_event(event):
        return sign_in_gateway.authorize(event)
    return app(event, context)


@app.schedule(Rate(1, unit=Rate.DAYS))
def ingest(event):
    """Daily ingestion; raises if the mirror or the population failed (Lambda error metric)."""
    return handlers.scheduled_ingestion(context=getattr(event, "context", None))


@app.on_sqs_message(queue_arn=CONTINUATION_QUEUE_ARN, batch_size=1)
def ingest_continue(event):
    """Continue a mirror run that the previous invocation's time limit cut short."""
    for record in event:
        handlers.continue_ingestion(record.body, context=getattr(event, "context", None))


@app.on_sqs_message(queue_arn=ANALYSIS_QUEUE_ARN, batch_size=1)
def analyze(event):
    """Reports for each S3 notification of a report input (a failure makes SQS redeliver)."""
    for record in event:
        handlers.handle_analysis_message(record.body)


@app.on_sqs_message(queue_arn=LAKE_QUEUE_ARN, batch_size=1)
def lake(event):
    """Silver layer for each changed bronze file (a failure makes SQS redeliver, then dead-letter)."""
    for record in event:
        handlers.handle_lake_message(record.body)
