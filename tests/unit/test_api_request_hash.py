"""The router's request hash: what a job does, independent of how the JSON was written."""

from __future__ import annotations

from pipeline_common.contracts.jobs import ProcessRequest
from tests.support.functions import load_function

CLIENT = "3f2b9c1e8a7d4c6b9e0f1a2b3c4d5e6f"


def request(**pacs: str) -> ProcessRequest:
    return ProcessRequest.model_validate({"client_id": CLIENT, "pacs": pacs})


def test_key_order_and_job_id_do_not_change_the_hash():
    logic = load_function("router", "router_logic")
    a = ProcessRequest.model_validate(
        {"client_id": CLIENT, "pacs": {"study_id": "s1", "series_id": "r1", "image_id": "i1"}}
    )
    b = ProcessRequest.model_validate(
        {
            "pacs": {"image_id": "i1", "series_id": "r1", "study_id": "s1", "scope": "image"},
            "job_id": "chosen-job-id-1",
            "client_id": CLIENT,
        }
    )

    assert logic.request_hash(algo_id="processing_1", request=a) == logic.request_hash(
        algo_id="processing_1", request=b
    )


def test_algorithm_and_data_change_the_hash():
    logic = load_function("router", "router_logic")
    base = request(study_id="s1", series_id="r1", image_id="i1")

    hashes = {
        logic.request_hash(algo_id="processing_1", request=base),
        logic.request_hash(algo_id="processing_2", request=base),
        logic.request_hash(
            algo_id="processing_1", request=request(study_id="s1", series_id="r1", image_id="i2")
        ),
    }

    assert len(hashes) == 3
