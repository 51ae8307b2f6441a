"""The AWS JSON protocol (server side) against botocore's own serializer and parser."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.model import OperationModel, ServiceModel
from botocore.parsers import JSONParser
from botocore.serialize import JSONSerializer

from rolegate.wire.json_protocol import (
    JsonProtocolError,
    JsonServiceProtocol,
    get_json_protocol,
    json_error_code,
    json_error_response,
)

TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"
HEADERS = {"Content-Type": "application/x-amz-json-1.1"}


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("cloudtrail")


@pytest.fixture
def cloudtrail(model: ServiceModel) -> JsonServiceProtocol:
    """A fresh protocol (no service-specific member errors registered)."""
    return JsonServiceProtocol(model)


def _request(model: ServiceModel, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    return JSONSerializer().serialize_to_request(params, model.operation_model(operation))


def _round_trip(
    protocol: JsonServiceProtocol, model: ServiceModel, operation: str, params: dict[str, Any]
) -> dict[str, Any]:
    request = _request(model, operation, params)
    parsed_op, parsed = protocol.parse_request(
        request["method"], request["headers"], request["body"]
    )
    assert parsed_op.name == operation
    return parsed


def _botocore_parse(operation: OperationModel, body: bytes, status: int = 200) -> dict[str, Any]:
    response = {"status_code": status, "headers": {}, "body": body}
    parsed: dict[str, Any] = JSONParser().parse(response, operation.output_shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


# --------------------------------------------------------------------------- requests


def test_lookup_events_request_round_trips(
    cloudtrail: JsonServiceProtocol, model: ServiceModel
) -> None:
    params = {
        "LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "alice"}],
        "StartTime": datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC),
        "EndTime": datetime(2024, 5, 2, 12, 0, 0, tzinfo=UTC),
        "EventCategory": "insight",
        "MaxResults": 25,
        "NextToken": "abc",
    }
    assert _round_trip(cloudtrail, model, "LookupEvents", params) == params


def test_an_empty_request_parses_to_no_params(
    cloudtrail: JsonServiceProtocol, model: ServiceModel
) -> None:
    assert _round_trip(cloudtrail, model, "LookupEvents", {}) == {}
    operation, params = cloudtrail.parse_request("POST", HEADERS | _target("LookupEvents"), b"")
    assert (operation.name, params) == ("LookupEvents", {})


def test_structures_lists_booleans_round_trip(
    cloudtrail: JsonServiceProtocol, model: ServiceModel
) -> None:
    params = {
        "Name": "trail",
        "S3BucketName": "bucket",
        "IncludeGlobalServiceEvents": False,
        "IsMultiRegionTrail": True,
        "TagsList": [{"Key": "team", "Value": "sec"}, {"Key": "empty"}],
    }
    assert _round_trip(cloudtrail, model, "CreateTrail", params) == params
    selectors = {
        "TrailName": "trail",
        "AdvancedEventSelectors": [
            {
                "Name": "s3",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                ],
            }
        ],
    }
    assert _round_trip(cloudtrail, model, "PutEventSelectors", selectors) == selectors
    lowercase = {"trailNameList": ["a", "b"], "includeShadowTrails": False}
    assert _round_trip(cloudtrail, model, "DescribeTrails", lowercase) == lowercase


def test_fractional_epoch_timestamps_parse(cloudtrail: JsonServiceProtocol) -> None:
    body = json.dumps({"StartTime": 1714564800.25}).encode()
    _, params = cloudtrail.parse_request("POST", HEADERS | _target("ListPublicKeys"), body)
    assert params["StartTime"] == datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)


def test_unknown_members_and_nulls_are_ignored(cloudtrail: JsonServiceProtocol) -> None:
    body = json.dumps({"MaxResults": 5, "Surprise": 1, "NextToken": None}).encode()
    _, params = cloudtrail.parse_request("POST", HEADERS | _target("LookupEvents"), body)
    assert params == {"MaxResults": 5}


# --------------------------------------------------------------------------- every type


GENERIC_MODEL: dict[str, Any] = {
    "metadata": {
        "apiVersion": "2020-01-01",
        "protocol": "json",
        "jsonVersion": "1.0",
        "targetPrefix": "Generic_20200101",
        "serviceId": "Generic",
        "endpointPrefix": "generic",
        "signatureVersion": "v4",
    },
    "operations": {
        "Echo": {
            "name": "Echo",
            "http": {"method": "POST", "requestUri": "/"},
            "input": {"shape": "Everything"},
            "output": {"shape": "Everything"},
            "errors": [{"shape": "Conflict"}],
        }
    },
    "shapes": {
        "Everything": {
            "type": "structure",
            "required": ["Name"],
            "members": {
                "Name": {"shape": "Name"},
                "Renamed": {"shape": "Str", "locationName": "wire_name"},
                "Count": {"shape": "Long"},
                "Small": {"shape": "Int"},
                "Ratio": {"shape": "Double"},
                "Data": {"shape": "Blob"},
                "When": {"shape": "Time"},
                "WhenIso": {"shape": "IsoTime"},
                "Labels": {"shape": "Labels"},
                "Nested": {"shape": "Nested"},
                "Items": {"shape": "Items"},
                "Flag": {"shape": "Bool"},
            },
        },
        "Nested": {"type": "structure", "members": {"Inner": {"shape": "Nested"}}},
        "Items": {"type": "list", "member": {"shape": "Labels"}},
        "Labels": {"type": "map", "key": {"shape": "Str"}, "value": {"shape": "Str"}},
        "Name": {"type": "string", "min": 1, "max": 8, "pattern": "[a-z]+"},
        "Str": {"type": "string"},
        "Long": {"type": "long"},
        "Int": {"type": "integer", "min": 0, "max": 100},
        "Double": {"type": "double"},
        "Blob": {"type": "blob"},
        "Bool": {"type": "boolean"},
        "Time": {"type": "timestamp"},
        "IsoTime": {"type": "timestamp", "timestampFormat": "iso8601"},
        "Conflict": {
            "type": "structure",
            "members": {"message": {"shape": "Str"}, "Reason": {"shape": "Str"}},
            "exception": True,
            "error": {"code": "Conflict", "httpStatusCode": 409, "senderFault": True},
        },
    },
}


@pytest.fixture
def generic() -> JsonServiceProtocol:
    return JsonServiceProtocol.from_model(GENERIC_MODEL, "generic")


EVERYTHING: dict[str, Any] = {
    "Name": "abc",
    "Renamed": "x",
    "Count": 2**40,
    "Small": 7,
    "Ratio": 0.5,
    "Data": b"\x00\xffbytes",
    "When": datetime(2021, 3, 4, 5, 6, 7, 500000, tzinfo=UTC),
    "WhenIso": datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC),
    "Labels": {"a": "1", "b": "2"},
    "Nested": {"Inner": {"Inner": {}}},
    "Items": [{"k": "v"}, {}],
    "Flag": True,
}


def test_every_type_round_trips_both_ways(generic: JsonServiceProtocol) -> None:
    operation = generic.operation("Echo")
    request = JSONSerializer().serialize_to_request(EVERYTHING, operation)
    assert request["headers"]["X-Amz-Target"] == "Generic_20200101.Echo"
    assert b'"wire_name"' in request["body"]
    _, params = generic.parse_request("POST", request["headers"], request["body"])
    assert params == EVERYTHING
    body = generic.serialize_response(operation, params)
    assert _botocore_parse(operation, body) == EVERYTHING
    assert json.loads(body)["When"] == 1614834367.5
    assert json.loads(body)["WhenIso"] == "2021-03-04T05:06:07Z"


def test_special_floats_round_trip(generic: JsonServiceProtocol) -> None:
    operation = generic.operation("Echo")
    for special in ("NaN", "Infinity", "-Infinity"):
        body = json.dumps({"Name": "a", "Ratio": special}).encode()
        _, params = generic.parse_request("POST", _target("Echo", "Generic_20200101"), body)
        assert str(params["Ratio"]) == {"NaN": "nan", "Infinity": "inf"}.get(special, "-inf")
        assert math.isnan(params["Ratio"]) == (special == "NaN")
        # botocore's JSON parser hands the named floats over as the strings AWS writes
        out = _botocore_parse(operation, generic.serialize_response(operation, params))
        assert out["Ratio"] == special


def test_the_serializer_refuses_unknown_members_and_wrong_types(
    generic: JsonServiceProtocol,
) -> None:
    operation = generic.operation("Echo")
    with pytest.raises(ValueError, match="no member 'Bogus'"):
        generic.serialize_response(operation, {"Bogus": 1})
    with pytest.raises(TypeError):
        generic.serialize_response(operation, {"Small": "7"})
    with pytest.raises(TypeError):
        generic.serialize_response(operation, {"Flag": 1})
    assert generic.serialize_response(operation, {"Name": None, "Flag": False}) == b'{"Flag":false}'


# --------------------------------------------------------------------------- outputs


def test_lookup_events_output_parses_in_botocore(
    cloudtrail: JsonServiceProtocol, model: ServiceModel
) -> None:
    operation = model.operation_model("LookupEvents")
    record = {"eventVersion": "1.11", "eventName": "CreateUser", "readOnly": False}
    result = {
        "Events": [
            {
                "EventId": "0b5e4f4c-2a9e-4f62-a9d2-5f0c9f3b9d1e",
                "EventName": "CreateUser",
                "ReadOnly": "false",
                "AccessKeyId": "AKIAEXAMPLE",
                "EventTime": datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC),
                "EventSource": "iam.amazonaws.com",
                "Username": "alice",
                "Resources": [{"ResourceType": "AWS::IAM::User", "ResourceName": "bob"}],
                "CloudTrailEvent": json.dumps(record),
            }
        ],
        "NextToken": "next",
    }
    body = cloudtrail.serialize_response(operation, result)
    assert json.loads(body)["Events"][0]["EventTime"] == 1714564801
    parsed = _botocore_parse(operation, body)
    assert parsed["Events"][0]["EventTime"] == result["Events"][0]["EventTime"]
    assert parsed == result
    assert json.loads(parsed["Events"][0]["CloudTrailEvent"]) == record


def test_blobs_maps_and_nested_lists_output(
    cloudtrail: JsonServiceProtocol, model: ServiceModel
) -> None:
    keys = model.operation_model("ListPublicKeys")
    result = {
        "PublicKeyList": [
            {
                "Value": b"\x30\x82key",
                "ValidityStartTime": datetime(2024, 1, 1, tzinfo=UTC),
                "ValidityEndTime": datetime(2024, 2, 1, 0, 0, 0, 123000, tzinfo=UTC),
                "Fingerprint": "ab:cd",
            }
        ]
    }
    assert _botocore_parse(keys, cloudtrail.serialize_response(keys, result)) == result
    rows = model.operation_model("GetQueryResults")
    result = {
        "QueryStatus": "FINISHED",
        "QueryStatistics": {"ResultsCount": 2, "TotalResultsCount": 2, "BytesScanned": 2**35},
        "QueryResultRows": [[{"eventName": "CreateUser"}, {"n": "1"}], []],
    }
    assert _botocore_parse(rows, cloudtrail.serialize_response("GetQueryResults", result)) == result
    empty = model.operation_model("AddTags")
    assert cloudtrail.serialize_response(empty, None) == b"{}"


# --------------------------------------------------------------------------- errors


def _target(operation: str, prefix: str = TARGET) -> dict[str, str]:
    return {"X-Amz-Target": f"{prefix}.{operation}"}


def _error(protocol: JsonServiceProtocol, body: Any, operation: str = "LookupEvents") -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(JsonProtocolError) as caught:
        protocol.parse_request("POST", HEADERS | _target(operation), raw)
    return caught.value


@pytest.mark.parametrize(
    "body",
    [
        {"MaxResults": "5"},
        {"MaxResults": 5.5},
        {"MaxResults": True},
        {"MaxResults": 2**31},
        {"StartTime": "2024-01-01T00:00:00Z"},
        {"StartTime": True},
        {"LookupAttributes": {"AttributeKey": "Username"}},
        {"LookupAttributes": ["Username"]},
        {"LookupAttributes": [None]},
        {"LookupAttributes": [{"AttributeKey": 5, "AttributeValue": "x"}]},
        b"{not json",
        b"[1, 2]",
        b"\xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_wrong_types_are_serialization_exceptions(
    cloudtrail: JsonServiceProtocol, body: Any
) -> None:
    error = _error(cloudtrail, body)
    assert (error.code, error.http_status) == ("SerializationException", 400)


def test_constraint_violations_are_validation_exceptions(cloudtrail: JsonServiceProtocol) -> None:
    error = _error(cloudtrail, {"MaxResults": 51})
    assert (error.code, error.http_status) == ("ValidationException", 400)
    assert error.message == (
        "1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 50"
    )
    error = _error(cloudtrail, {"LookupAttributes": [{"AttributeKey": "Nope"}]})
    assert error.message.startswith("2 validation errors detected: ")
    assert "at 'lookupAttributes.1.member.attributeKey' failed to satisfy constraint: " in (
        error.message
    )
    assert "Value null at 'lookupAttributes.1.member.attributeValue'" in error.message
    missing = _error(cloudtrail, {"Name": "trail"}, "CreateTrail")
    assert missing.message == (
        "1 validation error detected: Value null at 's3BucketName' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_member_errors_replace_validation_exceptions(cloudtrail: JsonServiceProtocol) -> None:
    cloudtrail.set_member_errors(
        "LookupEvents",
        {
            "MaxResults": "InvalidMaxResultsException",
            "LookupAttributes": "InvalidLookupAttributesException",
        },
    )
    error = _error(cloudtrail, {"MaxResults": 0})
    assert (error.code, error.http_status) == ("InvalidMaxResultsException", 400)
    error = _error(cloudtrail, {"LookupAttributes": [{"AttributeKey": "Nope"}], "MaxResults": 5})
    assert error.code == "InvalidLookupAttributesException"
    with pytest.raises(KeyError):
        cloudtrail.set_member_errors("LookupEvents", {"MaxResults": "NoSuchShape"})


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("POST", HEADERS),
        ("POST", HEADERS | {"X-Amz-Target": "LookupEvents"}),
        ("POST", HEADERS | {"X-Amz-Target": f"{TARGET}.NoSuchOperation"}),
        ("POST", HEADERS | {"X-Amz-Target": "com.amazonaws.other.Svc.LookupEvents"}),
        ("GET", HEADERS | _target("LookupEvents")),
        ("POST", {"Content-Type": "application/x-www-form-urlencoded"} | _target("LookupEvents")),
    ],
)
def test_bad_targets_are_unknown_operations(
    cloudtrail: JsonServiceProtocol, method: str, headers: dict[str, str]
) -> None:
    with pytest.raises(JsonProtocolError) as caught:
        cloudtrail.parse_request(method, headers, b"{}")
    assert (caught.value.code, caught.value.http_status) == ("UnknownOperationException", 400)


def test_error_bodies_parse_in_botocore(
    cloudtrail: JsonServiceProtocol, model: ServiceModel
) -> None:
    operation = model.operation_model("LookupEvents")
    status, code = cloudtrail.error_http_status("InvalidTimeRangeException")
    assert (status, code) == (400, "InvalidTimeRangeException")
    body = cloudtrail.serialize_error(code, "Start after end.")
    assert json.loads(body) == {"__type": code, "message": "Start after end."}
    parsed = JSONParser().parse({"status_code": status, "headers": {}, "body": body}, None)
    assert parsed["Error"] == {"Code": code, "Message": "Start after end."}
    raised = cloudtrail.error("InvalidNextTokenException", "bad token")
    assert cloudtrail.error_body(raised)[0] == 400
    assert operation.error_shapes


def test_modeled_error_fields_are_written(generic: JsonServiceProtocol) -> None:
    body = generic.serialize_error(
        "Conflict", "busy", error_shape="Conflict", fields={"Reason": "r"}
    )
    assert json.loads(body) == {"__type": "Conflict", "message": "busy", "Reason": "r"}
    assert generic.error_http_status("Conflict") == (409, "Conflict")
    with pytest.raises(KeyError):
        generic.modeled_error("Everything")
    with pytest.raises(ValueError):
        generic.serialize_error("Conflict", "busy", fields={"Reason": "r"})


def test_common_errors_take_their_json_names() -> None:
    assert json_error_code("AccessDenied", 403) == ("AccessDeniedException", 400)
    assert json_error_code("InvalidClientTokenId", 403) == ("UnrecognizedClientException", 400)
    assert json_error_code("SignatureDoesNotMatch", 403) == ("InvalidSignatureException", 400)
    assert json_error_code("InvalidTimeRangeException", 400) == ("InvalidTimeRangeException", 400)
    status, body = json_error_response("MissingAuthenticationToken", "missing", 403)
    assert (status, json.loads(body)["__type"]) == (400, "MissingAuthenticationTokenException")


def test_only_json_models_are_accepted() -> None:
    with pytest.raises(ValueError, match="not a json-protocol model"):
        JsonServiceProtocol(botocore.session.get_session().get_service_model("iam"))
    assert get_json_protocol("cloudtrail") is get_json_protocol("cloudtrail")
    assert get_json_protocol("cloudtrail").content_type == "application/x-amz-json-1.1"


def test_validation_errors_for_every_constraint(generic: JsonServiceProtocol) -> None:
    def fails(body: dict[str, Any]) -> str:
        with pytest.raises(JsonProtocolError) as caught:
            generic.parse_request("POST", _target("Echo", "Generic_20200101"), json.dumps(body))
        assert caught.value.code == "ValidationException"
        return caught.value.message

    assert "Member must satisfy regular expression pattern: [a-z]+" in fails({"Name": "ABC"})
    assert "Member must have length less than or equal to 8" in fails({"Name": "abcdefghi"})
    assert "Member must have value greater than or equal to 0" in fails({"Name": "a", "Small": -1})
    assert "Value null at 'name'" in fails({})
