"""Execution names and correlation ids: deterministic, distinct, valid for Step Functions."""

from __future__ import annotations

import re

import pytest

from pipeline_common.s3_dispatch import batch_name, object_id

# Step Functions: 1-80 characters; these keep names safe in ARNs, URLs and CloudWatch queries.
VALID_NAME = re.compile(r"[a-z0-9-]{1,80}")


def test_object_id_is_the_same_on_every_delivery_and_valid_whatever_the_key() -> None:
    # Given a key of 1024 characters full of what names cannot hold
    key = "uploads/" + "été [*?] {}\u0007 " * 80 + ".mp4"

    # When its id is derived twice
    first = object_id("vid-", "bucket", key, "v1", "etag")
    second = object_id("vid-", "bucket", key, "v1", "etag")

    # Then both are equal, prefixed and a valid execution name
    assert first == second
    assert first.startswith("vid-")
    assert VALID_NAME.fullmatch(first)


@pytest.mark.parametrize(
    "other",
    [
        ("bucket-b", "a.jpg", "v1", None),
        ("bucket-a", "b.jpg", "v1", None),
        ("bucket-a", "a.jpg", "v2", None),
        ("bucket-a", "a.jpg", None, "v1"),  # an ETag equal to a version id is another object
    ],
)
def test_another_object_or_version_has_another_id(other: tuple) -> None:
    assert object_id("img-", *other) != object_id("img-", "bucket-a", "a.jpg", "v1", None)


def test_the_version_names_the_object_and_the_etag_only_without_one() -> None:
    # Given one version announced twice with different ETags (a copy in place keeps the version)
    # When / Then the id follows the version; without a version, the content (ETag)
    assert object_id("img-", "b", "k", "v1", "e1") == object_id("img-", "b", "k", "v1", "e2")
    assert object_id("img-", "b", "k", None, "e1") != object_id("img-", "b", "k", None, "e2")


def test_the_image_object_id_is_unchanged() -> None:
    # Given the image object id executions were named with before the module was shared
    # When / Then it is still the same (a notification redelivered across a deploy starts nothing)
    assert object_id("img-", "image-input-bucket", "uploads/bus.jpg", "v1", None) == (
        "img-9cd04a4445f0ce53f39d739cc7c76998300e296686011560ec909d35e9091e00"
    )


def test_batch_name_ignores_order_and_repeats() -> None:
    ids = [object_id("img-", "b", k, "v", None) for k in ("a.jpg", "b.jpg", "c.jpg")]
    name = batch_name("imgb-", ids)
    assert batch_name("imgb-", [ids[2], ids[0], ids[1], ids[0]]) == name
    assert batch_name("imgb-", ids[:2]) != name
    assert VALID_NAME.fullmatch(name)


@pytest.mark.parametrize("prefix", ["", "img", "IMG-", "img_", "a-much-too-long-prefix-"])
def test_a_prefix_that_could_break_the_name_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        object_id(prefix, "b", "k", "v", None)
