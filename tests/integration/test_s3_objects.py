"""The shared S3 helpers against moto's S3: which real answers count as missing or unreadable,
and the one cap on presigned links."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from botocore.exceptions import ClientError

from pipeline_common.s3_objects import (
    MAX_LINK_SECONDS,
    is_missing,
    is_unreadable,
    presigned_get,
    presigned_post,
)

BUCKET = "helpers-bucket"


@pytest.fixture
def s3(mocked_aws: None) -> object:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="there.txt", Body=b"x")
    return client


def _error_of(call: object, **params: str) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(**params)  # type: ignore[operator]
    return caught.value


def test_an_absent_key_is_missing_for_get_and_head(s3):
    get = _error_of(s3.get_object, Bucket=BUCKET, Key="absent.txt")
    head = _error_of(s3.head_object, Bucket=BUCKET, Key="absent.txt")

    assert get.response["Error"]["Code"] == "NoSuchKey"
    assert head.response["Error"]["Code"] == "404"
    assert all(is_missing(e) and is_unreadable(e) for e in (get, head))


def test_a_missing_bucket_is_unreadable_but_not_missing(s3):
    error = _error_of(s3.get_object, Bucket="no-such-bucket-here", Key="k")

    assert error.response["Error"]["Code"] == "NoSuchBucket"
    assert not is_missing(error)
    assert is_unreadable(error)


def test_a_denial_is_unreadable_but_not_missing():
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")

    assert not is_missing(denied)
    assert is_unreadable(denied)


def test_presigned_get_signs_the_object_and_version_for_the_lifetime(s3):
    url = presigned_get(BUCKET, "there.txt", expires_in=120, version_id="v1")

    query = parse_qs(urlparse(url).query)
    assert urlparse(url).path.endswith("/there.txt")
    assert query["X-Amz-Expires"] == ["120"]
    assert query["versionId"] == ["v1"]


@pytest.mark.parametrize("lifetime", [0, MAX_LINK_SECONDS + 1])
def test_no_link_is_signed_outside_the_cap(s3, lifetime):
    with pytest.raises(ValueError, match="presigned link"):
        presigned_get(BUCKET, "there.txt", expires_in=lifetime)
    with pytest.raises(ValueError, match="presigned link"):
        presigned_post(BUCKET, "k", expires_in=lifetime, content_type="image/png", max_bytes=9)


def test_presigned_post_fixes_type_and_size(s3):
    post = presigned_post(
        BUCKET, "up/k.png", expires_in=MAX_LINK_SECONDS, content_type="image/png", max_bytes=9
    )

    assert post["fields"]["key"] == "up/k.png"
    assert post["fields"]["Content-Type"] == "image/png"
