"""template.yaml wires batched image tasks: S3 -> ImageIntakeQueue (with its DLQ) -> the
dispatcher in batches set by parameters -> one execution per batch; the task and the state
machine share the claims table."""

from __future__ import annotations

import json

from pipeline_common.contracts.image import MAX_BATCH_OBJECTS
from tests.support.image_samples import grayscale_task_module
from tests.unit.test_template_policies import ROOT, TEMPLATE, target

TaskSettings = grayscale_task_module("settings").TaskSettings


def _resource(logical_id: str) -> dict:
    return TEMPLATE.resources[logical_id].properties


def test_new_objects_are_buffered_in_the_intake_queue_which_dead_letters():
    # Given the input bucket's notification and the intake queue
    (config,) = _resource("ImageInputBucket")["NotificationConfiguration"]["QueueConfigurations"]
    queue = _resource("ImageIntakeQueue")

    # Then every created object reaches the queue, which gives up into the failure queue
    assert config["Event"] == "s3:ObjectCreated:*"
    assert target(config["Queue"]) == "ImageIntakeQueue"
    assert target(queue["RedrivePolicy"]["deadLetterTargetArn"]) == "ImageDispatchFailureQueue"
    # And its visibility timeout outlasts six dispatcher timeouts
    assert int(queue["VisibilityTimeout"]) >= 6 * int(
        _resource("ImageDispatcherFunction")["Timeout"]
    )
    # And S3 may send to it before the bucket is created with the notification
    assert "ImageIntakeQueuePolicy" in TEMPLATE.resources["ImageInputBucket"].depends_on


def test_the_dispatcher_reads_the_queue_in_batches_set_by_parameters():
    # Given the dispatcher's event source and environment
    dispatcher = _resource("ImageDispatcherFunction")
    (event,) = dispatcher["Events"].values()
    props = event["Properties"]
    env = dispatcher["Environment"]["Variables"]

    # Then it is SQS with the batch parameters and partial batch responses
    assert event["Type"] == "SQS"
    assert target(props["Queue"]) == "ImageIntakeQueue"
    assert props["BatchSize"] == {"Ref": "ImageBatchSize"}
    assert props["MaximumBatchingWindowInSeconds"] == {"Ref": "ImageBatchWindowSeconds"}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert env["DISPATCH_MODE"] == {"Ref": "ImageDispatchMode"}
    assert env["BATCH_TIMEOUT_SECONDS"] == {"Ref": "ImageBatchTimeoutSeconds"}
    # And a batch never outgrows what the execution input holds
    assert int(TEMPLATE.parameters["ImageBatchSize"]["MaxValue"]) <= MAX_BATCH_OBJECTS
    assert set(TEMPLATE.parameters["ImageDispatchMode"]["AllowedValues"]) == {
        "batched",
        "per-object",
    }


def test_the_task_and_the_state_machine_share_the_claims_table():
    # Given the task definition's environment and the state machine's substitutions
    (container,) = _resource("GrayscaleTaskDefinition")["ContainerDefinitions"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    substitutions = _resource("ImageProcessingStateMachine")["DefinitionSubstitutions"]

    # Then both name ImageClaimsTable, and the task gets the per-object limit and concurrency
    assert target(env["CLAIMS_TABLE"]) == "ImageClaimsTable"
    assert target(substitutions["ClaimsTable"]) == "ImageClaimsTable"
    assert env["OBJECT_TIMEOUT_SECONDS"] == {"Ref": "ImageObjectTimeoutSeconds"}
    assert env["BATCH_CONCURRENCY"] == {"Ref": "ImageBatchConcurrency"}
    concurrency = TEMPLATE.parameters["ImageBatchConcurrency"]
    settings_field = TaskSettings.model_fields["batch_concurrency"]
    bounds = {type(m).__name__: m for m in settings_field.metadata}
    assert (int(concurrency["MinValue"]), int(concurrency["MaxValue"])) == (
        bounds["Ge"].ge,
        bounds["Le"].le,
    )
    claims = _resource("ImageClaimsTable")
    assert claims["KeySchema"] == [{"AttributeName": "object_id", "KeyType": "HASH"}]
    assert claims["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_the_batch_task_state_takes_its_timeout_from_the_input_the_dispatcher_sets():
    # Given the state machine's batch task state
    definition = json.loads((ROOT / "statemachines" / "image_processing.asl.json").read_text())
    state = definition["States"]["Run grayscale batch task"]

    # Then its limit is the batch's and its overrides carry the manifest, not the object list
    assert state["TimeoutSecondsPath"] == "$.batch_timeout_seconds"
    names = {
        e["Name"] for e in state["Parameters"]["Overrides"]["ContainerOverrides"][0]["Environment"]
    }
    assert names == {"MANIFEST_BUCKET", "MANIFEST_KEY", "BATCH_ID", "CORRELATION_ID"}
