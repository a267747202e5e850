"""Message contracts: pydantic models defined once, imported by functions and containers alike.

One module per pipeline; every model that crosses a boundary (queue, stream, topic, HTTP body)
lives here and is round-tripped against the sample events in ``events/`` by the contract tests.
"""

from pipeline_common.contracts.common import S3Location, utc_now

__all__ = ["S3Location", "utc_now"]
