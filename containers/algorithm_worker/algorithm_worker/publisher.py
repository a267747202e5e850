"""Publishing results to the ResultsTopic (SNS FIFO), which delivers to ResultsQueue.fifo (the
WebSocket push). Poll clients read JobsTable instead (``GET /results``), so the topic has no
per-client subscription; the ``client_id`` attribute stays for any filtered subscriber."""

from __future__ import annotations

from typing import Any

from pipeline_common.contracts.jobs import JobResult


class ResultPublisher:
    def __init__(self, sns: Any, topic_arn: str) -> None:
        self.sns = sns
        self.topic_arn = topic_arn

    def publish(self, result: JobResult) -> str:
        response = self.sns.publish(
            TopicArn=self.topic_arn,
            Message=result.model_dump_json(),
            # One group per client keeps each client's results in order; the job id as the
            # dedup id makes a republish (redelivered job) a no-op within SNS's 5-minute window.
            MessageGroupId=result.client_id,
            MessageDeduplicationId=result.job_id,
            MessageAttributes={
                "client_id": {"DataType": "String", "StringValue": result.client_id},
                "algo_id": {"DataType": "String", "StringValue": result.algo_id},
                "status": {"DataType": "String", "StringValue": result.status.value},
            },
        )
        return str(response["MessageId"])
