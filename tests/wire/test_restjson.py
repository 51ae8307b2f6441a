"""REST-JSON (IAM Access Analyzer) against botocore's own serializer and parser."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.model import OperationModel  # type: ignore[import-untyped]
from botocore.parsers import RestJSONParser  # type: ignore[import-untyped]
from botocore.serialize import create_serializer  # type: ignore[import-untyped]

from rolegate.wire.json_parse import JsonProtocolError
from rolegate.wire.restjson import (
    ERROR_TYPE_HEADER,
    RestJsonError,
    RestJsonServiceProtocol,
    get_rest_json_protocol,
    rest_json_protocol_for,
)
from rolegate.wire.restjson_parse import UriTemplate

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
ANALYZER_ARN = "arn:aws:access-analyzer:us-east-1:111122223333:analyzer/main"


@pytest.fixture(scope="module")
def protocol() -> RestJsonServiceProtocol:
    return get_rest_json_protocol("accessanalyzer")


def _send(
    protocol: RestJsonServiceProtocol, operation: str, params: dict[str, Any]
) -> tuple[OperationModel, dict[str, Any]]:
    """Serialize ``params`` as boto3 would and parse the request back."""
    model = protocol.operation(operation)
    request = create_serializer("rest-json", include_validation=False).serialize_to_request(
        params, model
    )
    query = urllib.parse.urlencode(request["query_string"], doseq=True)
    body = request["body"]
    if isinstance(body, str):
        body = body.encode()
    headers = [(k, v) for k, v in request["headers"].items()]
    return protocol.parse_request(request["method"], request["url_path"], query, headers, body)


def _botocore_parse(
    operation: OperationModel, status: int, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    response = {"status_code": status, "headers": headers, "body": body}
    parsed: dict[str, Any] = RestJSONParser().parse(response, operation.output_shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


# ---------------------------------------------------------------------------- routing


def test_uri_template_labels_are_decoded_and_specificity_wins() -> None:
    template = UriTemplate.compile("/analyzer/{analyzerName}/archive-rule/{ruleName}")
    assert template.match("/analyzer/a%2Eb/archive-rule/r", []) == {
        "analyzerName": "a.b",
        "ruleName": "r",
    }
    assert template.match("/analyzer/a/b/archive-rule/r", []) is None
    greedy = UriTemplate.compile("/{Bucket}/{Key+}?uploads")
    assert greedy.match("/b/x/y%20z", [("uploads", "")]) == {"Bucket": "b", "Key": "x/y z"}
    assert greedy.match("/b/x", []) is None


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("GET", "/analyzer", "ListAnalyzers"),
        ("PUT", "/analyzer", "CreateAnalyzer"),
        ("GET", "/analyzer/main", "GetAnalyzer"),
        ("DELETE", "/analyzer/main", "DeleteAnalyzer"),
        ("POST", "/analyzer/findings/statistics", "GetFindingsStatistics"),
        ("GET", "/analyzer/main/archive-rule", "ListArchiveRules"),
        ("GET", "/analyzer/main/archive-rule/r1", "GetArchiveRule"),
        ("POST", "/finding", "ListFindings"),
        ("GET", "/findingv2/abc", "GetFindingV2"),
        ("POST", "/policy/validation", "ValidatePolicy"),
        ("GET", f"/tags/{urllib.parse.quote(ANALYZER_ARN, safe='')}", "ListTagsForResource"),
    ],
)
def test_routes(protocol: RestJsonServiceProtocol, method: str, path: str, operation: str) -> None:
    resolved, _ = protocol.router.resolve(method, path, [])
    assert resolved.name == operation


def test_unknown_route_is_a_validation_exception_with_reason(
    protocol: RestJsonServiceProtocol,
) -> None:
    with pytest.raises(RestJsonError) as caught:
        protocol.parse_request("PATCH", "/analyzer", "", [], b"")
    assert caught.value.code == "ValidationException"
    assert caught.value.fields == {"reason": "unknownOperation"}


# ---------------------------------------------------------------------------- requests


ROUND_TRIPS: list[tuple[str, dict[str, Any]]] = [
    (
        "CreateAnalyzer",
        {
            "analyzerName": "main",
            "type": "ACCOUNT",
            "tags": {"team": "sec"},
            "clientToken": "tok",
            "archiveRules": [{"ruleName": "r1", "filter": {"isPublic": {"eq": ["false"]}}}],
        },
    ),
    ("GetAnalyzer", {"analyzerName": "my.analyzer-1"}),
    ("DeleteAnalyzer", {"analyzerName": "main", "clientToken": "abc"}),
    ("ListAnalyzers", {"type": "ACCOUNT", "maxResults": 5, "nextToken": "t"}),
    ("GetFinding", {"analyzerArn": ANALYZER_ARN, "id": "f-1"}),
    ("GetFindingV2", {"analyzerArn": ANALYZER_ARN, "id": "f-1", "maxResults": 3}),
    (
        "ListFindings",
        {
            "analyzerArn": ANALYZER_ARN,
            "filter": {"resource": {"contains": ["role/"]}, "error": {"exists": False}},
            "sort": {"attributeName": "updatedAt", "orderBy": "DESC"},
            "maxResults": 10,
        },
    ),
    (
        "UpdateArchiveRule",
        {"analyzerName": "main", "ruleName": "r1", "filter": {"status": {"neq": ["ACTIVE"]}}},
    ),
    (
        "GetAnalyzedResource",
        {"analyzerArn": ANALYZER_ARN, "resourceArn": "arn:aws:iam::111122223333:role/a b"},
    ),
    ("UntagResource", {"resourceArn": ANALYZER_ARN, "tagKeys": ["a", "b"]}),
    ("GetGeneratedPolicy", {"jobId": "j", "includeResourcePlaceholders": True}),
]


@pytest.mark.parametrize(("operation", "params"), ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_request_round_trip(
    protocol: RestJsonServiceProtocol, operation: str, params: dict[str, Any]
) -> None:
    parsed_operation, parsed = _send(protocol, operation, params)
    assert parsed_operation.name == operation
    assert parsed == params


def test_constraint_violations_are_validation_exceptions(
    protocol: RestJsonServiceProtocol,
) -> None:
    with pytest.raises(RestJsonError) as caught:
        _send(protocol, "CreateAnalyzer", {"analyzerName": "1bad", "type": "NOPE"})
    error = caught.value
    assert (error.code, error.http_status) == ("ValidationException", 400)
    assert error.fields == {"reason": "fieldValidationFailed"}
    assert "2 validation errors detected" in error.message
    assert "at 'analyzerName'" in error.message and "at 'type'" in error.message


def test_missing_uri_label_member_and_bad_query_integer(
    protocol: RestJsonServiceProtocol,
) -> None:
    with pytest.raises(RestJsonError) as missing:
        protocol.parse_request("POST", "/finding", "", [], b"{}")
    assert "analyzerArn" in missing.value.message
    with pytest.raises(RestJsonError) as bad:
        protocol.parse_request("GET", "/analyzer", "maxResults=ten", [], b"")
    assert bad.value.fields == {"reason": "cannotParse"}


def test_body_not_json_and_body_cannot_set_a_uri_member(
    protocol: RestJsonServiceProtocol,
) -> None:
    with pytest.raises(RestJsonError) as caught:
        protocol.parse_request("PUT", "/analyzer", "", [], b"{nope")
    assert caught.value.fields == {"reason": "cannotParse"}
    _, params = protocol.parse_request(
        "GET", "/analyzer/real", "", [], json.dumps({"analyzerName": "forged"}).encode()
    )
    assert params == {"analyzerName": "real"}


# ---------------------------------------------------------------------------- responses


def test_response_round_trip_with_iso_timestamps(protocol: RestJsonServiceProtocol) -> None:
    analyzer = {
        "arn": ANALYZER_ARN,
        "name": "main",
        "type": "ACCOUNT",
        "createdAt": WHEN,
        "status": "ACTIVE",
        "tags": {"k": "v"},
    }
    status, headers, body = protocol.serialize_response("GetAnalyzer", {"analyzer": analyzer})
    assert (status, headers) == (200, {})
    assert json.loads(body)["analyzer"]["createdAt"] == "2024-05-06T07:08:09Z"
    parsed = _botocore_parse(protocol.operation("GetAnalyzer"), status, headers, body)
    assert parsed == {"analyzer": analyzer}


def test_operation_without_output_is_an_empty_object(protocol: RestJsonServiceProtocol) -> None:
    assert protocol.serialize_response("DeleteAnalyzer", None) == (200, {}, b"{}")
    with pytest.raises(ValueError):
        protocol.serialize_response("DeleteAnalyzer", {"x": 1})


def test_unknown_output_member_is_a_programming_error(protocol: RestJsonServiceProtocol) -> None:
    with pytest.raises(ValueError):
        protocol.serialize_response("CreateAnalyzer", {"arn": "a", "bogus": 1})


# ---------------------------------------------------------------------------- errors


def _botocore_error(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    response = {"status_code": status, "headers": headers, "body": body}
    parsed: dict[str, Any] = RestJSONParser().parse(response, None)
    return parsed


def test_modeled_error_with_fields(protocol: RestJsonServiceProtocol) -> None:
    status, headers, body = protocol.error_response(
        "ResourceNotFoundException",
        "Analyzer main not found.",
        400,
        fields={"resourceId": "main", "resourceType": "AWS::AccessAnalyzer::Analyzer"},
    )
    assert status == 404
    assert headers == {ERROR_TYPE_HEADER: "ResourceNotFoundException"}
    assert json.loads(body) == {
        "message": "Analyzer main not found.",
        "resourceId": "main",
        "resourceType": "AWS::AccessAnalyzer::Analyzer",
    }
    parsed = _botocore_error(status, {k.lower(): v for k, v in headers.items()}, body)
    assert parsed["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": "Analyzer main not found.",
    }


def test_common_errors_get_json_names_and_model_status(protocol: RestJsonServiceProtocol) -> None:
    status, headers, body = protocol.error_response("AccessDenied", "no", 403)
    assert (status, headers[ERROR_TYPE_HEADER]) == (403, "AccessDeniedException")
    status, headers, _ = protocol.error_response("InvalidClientTokenId", "bad", 403)
    assert headers[ERROR_TYPE_HEADER] == "UnrecognizedClientException"
    status, headers, body = protocol.error_response("ValidationException", "x", 400)
    assert json.loads(body) == {"message": "x", "reason": "other"}
    status, _, _ = protocol.error_response("ThrottlingException", "slow", 400)
    assert status == 429


def test_not_a_rest_json_model() -> None:
    import botocore.session  # type: ignore[import-untyped]

    with pytest.raises(ValueError):
        RestJsonServiceProtocol(botocore.session.get_session().get_service_model("cloudtrail"))
    assert rest_json_protocol_for("access-analyzer") is get_rest_json_protocol("accessanalyzer")
    assert issubclass(RestJsonError, JsonProtocolError)
