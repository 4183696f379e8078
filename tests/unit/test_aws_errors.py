"""The one AWS error converter (cloud/aws_errors.py), on botocore's own exception classes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from pilot_tui import redact
from pilot_tui.cloud import aws_errors
from pilot_tui.cloud.errors import CloudError
from pilot_tui.deploy.registry import RegistryError
from pilot_tui.deploy.targets.managed import TargetError


def refused(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "PutObject")


def test_code_reads_aws_code_and_nothing_else():
    assert aws_errors.code(refused("NoSuchKey", "gone")) == "NoSuchKey"
    assert aws_errors.code(ClientError({}, "GetObject")) == ""
    assert aws_errors.code(ValueError("no response")) == ""


def test_converted_names_what_and_the_code_in_the_class_asked_for():
    error = aws_errors.converted("ECR repository pilot-acme-api", refused("Denied", "no"))
    assert isinstance(error, CloudError) and isinstance(error, TargetError)
    assert str(error) == "ECR repository pilot-acme-api: AWS answered Denied: no"
    mine = aws_errors.converted("x", refused("Throttling", ""), error=RegistryError)
    assert type(mine) is RegistryError and str(mine) == "x: AWS answered Throttling"
    offline = EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    assert str(aws_errors.converted("bucket b", offline)).startswith(
        "bucket b: EndpointConnectionError: Could not connect"
    )


def test_an_echoed_value_is_blanked_and_known_secrets_masked():
    redact.register(["registered-s3cret-value"])
    echoed = refused("ValidationException", "'hidden-v4lue' and 'registered-s3cret-value' bad")
    with pytest.raises(CloudError) as raised, aws_errors.aws_call("SSM /p", hide="hidden-v4lue"):
        raise echoed
    assert "hidden-v4lue" not in str(raised.value) and "'***'" in str(raised.value)
    assert "registered-s3cret-value" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    with pytest.raises(CloudError) as chained, aws_errors.aws_call("SSM /p"):
        raise refused("AccessDenied", "no")
    assert chained.value.__cause__ is not None


def test_unless_turns_the_listed_codes_into_none():
    def gone() -> None:
        raise refused("NoSuchBucket", "none")

    assert aws_errors.unless(("NoSuchBucket",), gone) is None
    with pytest.raises(ClientError):
        aws_errors.unless(("NoSuchKey",), gone)
    assert aws_errors.unless((), lambda value: value, value=3) == 3


def test_refusal_is_one_line_naming_the_call_and_aws_words_never_a_body():
    assert aws_errors.refusal(refused("AccessDenied", "not you")) == (
        "AWS refused PutObject (AccessDenied: not you)"
    )
    body = "<?xml version='1.0'?><Error><Code>Expired</Code><Message>old keys</Message></Error>"
    unparsed = ClientError(
        {"Error": {"Code": "403", "Message": body}, "ResponseMetadata": {"HTTPStatusCode": 403}},
        "ListDistributions",
    )
    assert aws_errors.refusal(unparsed) == "AWS refused ListDistributions (403 Expired: old keys)"
    bare = ClientError({"ResponseMetadata": {"HTTPStatusCode": 500}}, "GetFunction")
    assert aws_errors.refusal(bare) == "AWS refused GetFunction (500)"
    offline = EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    assert aws_errors.refusal(offline).startswith("AWS could not be asked: Could not connect")
    assert aws_errors.refusal(ValueError("not AWS's")) is None


def test_a_google_library_refusal_is_one_line_and_anything_else_none():
    from google.api_core.exceptions import NotFound

    from pilot_tui.cloud import gcp_api

    assert gcp_api.library_refusal(NotFound("no bucket")) == "Google Cloud refused: 404 no bucket"
    assert gcp_api.library_refusal(refused("AccessDenied", "no")) is None
