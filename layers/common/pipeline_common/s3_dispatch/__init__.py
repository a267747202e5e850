"""What the image and video dispatchers share: turning S3 notifications (straight from S3, or
through an SQS queue) into Step Functions executions, one way for both.

- ``notifications``: the event parsed with Powertools' data classes into notifications and the
  objects they announce (``s3:TestEvent`` recognised and skipped).
- ``names``: the object id (execution name and correlation id of one object version, the same on
  every redelivery) and the batch name, both valid Step Functions execution names.
- ``failures``: how a rejected object is reported (one message on the pipeline's queue) and how
  an object that could not be dispatched is retried (SQS partial batch response, or
  ``DispatchFailed`` raised so Lambda retries the event, then dead-letters it).
- ``starts``: starting an execution, a name that already exists meaning "already dispatched".
"""

from pipeline_common.s3_dispatch.failures import DispatchFailed, Failures, report_rejection
from pipeline_common.s3_dispatch.names import batch_name, object_id
from pipeline_common.s3_dispatch.notifications import (
    CreatedObject,
    Notification,
    created_object,
    direct_notification,
    for_each_record,
    is_s3_test_event,
    notifications,
    record_label,
)
from pipeline_common.s3_dispatch.starts import start_execution

__all__ = [
    "CreatedObject",
    "DispatchFailed",
    "Failures",
    "Notification",
    "batch_name",
    "created_object",
    "direct_notification",
    "for_each_record",
    "is_s3_test_event",
    "notifications",
    "object_id",
    "record_label",
    "report_rejection",
    "start_execution",
]
