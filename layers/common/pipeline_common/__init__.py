"""Code shared by every Lambda function (as the common layer) and every container (copied in).

- ``contracts``: the message models that cross a queue, stream, topic or HTTP boundary.
- ``observability``: Powertools logger, tracer and metrics, configured once per process.
- ``aws``: lazily created, cached boto3 clients (the endpoint comes from ``AWS_ENDPOINT_URL``).
"""
