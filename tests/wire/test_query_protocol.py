"""The AWS Query protocol (server side) against botocore's protocol tests and botocore itself."""

from __future__ import annotations

import contextlib
import copy
import json
import math
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import OperationModel, ServiceModel
from botocore.parsers import QueryParser
from botocore.serialize import QuerySerializer
from botocore.utils import parse_timestamp, percent_encode_sequence
from botocore.validate import validate_parameters
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rolegate.wire.query import (
    QueryProtocolError,
    ServiceProtocol,
    error_http_status,
    get_protocol,
    parse_form_body,
    parse_request,
    serialize_error,
    serialize_response,
)
from rolegate.wire.query_parse import MAX_NESTING_DEPTH, compile_model_pattern

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "query-protocol"
INPUT_SUITES: list[dict[str, Any]] = json.loads((VECTORS / "input-query.json").read_text())
OUTPUT_SUITES: list[dict[str, Any]] = json.loads((VECTORS / "output-query.json").read_text())


def _cases(suites: list[dict[str, Any]]) -> list[Any]:
    out = []
    for suite_index, suite in enumerate(suites):
        for case_index, case in enumerate(suite["cases"]):
            case_id = case.get("id") or f"{suite_index}-{case_index}"
            out.append(pytest.param(suite, case, id=f"{case_id}-{suite_index}.{case_index}"))
    return out


def _model_for(suite: dict[str, Any], case: dict[str, Any]) -> tuple[ServiceModel, OperationModel]:
    description = {
        "metadata": copy.deepcopy(suite["metadata"]),
        "shapes": copy.deepcopy(suite["shapes"]),
        "operations": {case["given"]["name"]: copy.deepcopy(case["given"])},
    }
    model = ServiceModel(description)
    return model, model.operation_model(case["given"]["name"])


def _normal(value: Any) -> Any:
    """Comparable form: timestamps -> epoch seconds, blobs -> str, special floats -> str."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


# --------------------------------------------------------------------------- input vectors

#: Cases whose body cannot give back exactly the case's params, and why.
INPUT_DEVIATIONS = {
    # botocore writes an empty *map* as nothing at all (an empty list is ``Name=``), so the
    # server sees no MapArg: absent and empty are the same on the wire.
    "QueryEmptyQueryMaps": ({"MapArg": {}}, {}),
    # The *client* fills an idempotency token it was not given; the server reads that token.
    "QueryProtocolIdempotencyTokenAutoFill": (
        {},
        {"token": "00000000-0000-4000-8000-000000000000"},
    ),
}


@pytest.mark.parametrize(("suite", "case"), _cases(INPUT_SUITES))
def test_input_vector(suite: dict[str, Any], case: dict[str, Any]) -> None:
    model, operation = _model_for(suite, case)
    serialized = case["serialized"]
    if "body" in serialized:
        body = serialized["body"]
    else:
        # Request-compression cases give headers only: the body is the client's gzip of the
        # plain form. Decompression is the HTTP layer's business; the form is botocore's.
        assert serialized["headers"]["Content-Encoding"] == "gzip"
        assert case["given"]["requestcompression"] == {"encodings": ["gzip"]}
        fields = QuerySerializer().serialize_to_request(case["params"], operation)["body"]
        body = percent_encode_sequence(fields)
    parsed_op, params = parse_request(model, parse_form_body(body))
    assert parsed_op.name == case["given"]["name"]
    expected = case["params"]
    if case["id"] in INPUT_DEVIATIONS:
        stated, actual = INPUT_DEVIATIONS[case["id"]]
        assert expected == stated
        if case["id"] == "QueryProtocolIdempotencyTokenAutoFill":
            assert operation.input_shape.members["token"].metadata["idempotencyToken"] is True
        expected = actual
    assert _normal(params) == _normal(_typed(expected, operation))


@pytest.mark.parametrize(("suite", "case"), _cases(INPUT_SUITES))
def test_input_vector_as_botocore_writes_it(suite: dict[str, Any], case: dict[str, Any]) -> None:
    """botocore's own serialization of the case's params parses back to them too.

    It differs from the vector's body where botocore deviates from the spec (a flattened list
    member's ``locationName``: botocore writes ``item.1``, the vector ``Hi.1``).
    """
    model, operation = _model_for(suite, case)
    typed = _typed(case["params"], operation)  # botocore takes floats, not "NaN" strings
    fields = QuerySerializer().serialize_to_request(typed, operation)["body"]
    _, params = parse_request(model, parse_form_body(percent_encode_sequence(fields)))
    expected = case["params"]
    if case["id"] == "QueryEmptyQueryMaps":
        expected = {}  # an empty map is not written at all, as above
    assert _normal(params) == _normal(_typed(expected, operation))


def _typed(params: dict[str, Any], operation: OperationModel) -> Any:
    """The case's params with timestamps as datetimes and blobs as bytes (botocore's types)."""

    def walk(shape: Any, value: Any) -> Any:
        kind = shape.type_name
        if kind == "structure":
            return {k: walk(shape.members[k], v) for k, v in value.items()}
        if kind == "list":
            return [walk(shape.member, v) for v in value]
        if kind == "map":
            return {k: walk(shape.value, v) for k, v in value.items()}
        if kind == "timestamp":
            return datetime.fromtimestamp(value, UTC)
        if kind == "blob":
            return value.encode("utf-8")
        if kind in ("float", "double") and isinstance(value, str):
            return float(value)
        return value

    shape = operation.input_shape
    return walk(shape, params) if shape is not None else params


def test_every_input_vector_has_a_body_or_a_stated_reason() -> None:
    total = sum(len(s["cases"]) for s in INPUT_SUITES)
    without_body = [
        c["id"] for s in INPUT_SUITES for c in s["cases"] if "body" not in c["serialized"]
    ]
    assert total == 38
    assert without_body == [
        "SDKAppliedContentEncoding_awsQuery",
        "SDKAppendsGzipAndIgnoresHttpProvidedEncoding_awsQuery",
    ]


# --------------------------------------------------------------------------- output vectors


def _compliance_timestamp(value: str) -> float:
    return float(parse_timestamp(value).astimezone(UTC).timestamp())


def _botocore_parse(body: bytes, status: int, shape: Any) -> dict[str, Any]:
    parser = QueryParser(timestamp_parser=_compliance_timestamp)
    response = {"body": body, "headers": {}, "status_code": status}
    parsed: dict[str, Any] = parser.parse(response, shape)
    return parsed


def _fixup(parsed: dict[str, Any]) -> Any:
    parsed = dict(parsed)
    parsed.pop("ResponseMetadata", None)
    if "Error" in parsed:
        parsed["Error"] = {k: v for k, v in parsed["Error"].items() if k in ("Code", "Message")}
    return _normal(parsed)


@pytest.mark.parametrize(("suite", "case"), _cases(OUTPUT_SUITES))
def test_output_vector(suite: dict[str, Any], case: dict[str, Any]) -> None:
    model, operation = _model_for(suite, case)
    name = case["given"]["name"]
    if "error" in case:
        (error_ref,) = case["given"]["errors"]
        status = case["response"]["status_code"]
        assert error_http_status(model, error_ref["shape"]) == (status, case["errorCode"])
        body = serialize_error(
            model,
            case["errorCode"],
            case.get("errorMessage"),
            status,
            "foo-id",
            error_shape=error_ref["shape"],
            fields=case["error"],
        )
        parsed = _botocore_parse(body, status, operation.output_shape)
        assert parsed["ResponseMetadata"]["RequestId"] == "foo-id"
        error_shape = model.shape_for_error_code(parsed["Error"]["Code"])
        parsed.update(_botocore_parse(body, status, error_shape))
        expected = {"Error": {"Code": case["errorCode"]}, **case["error"]}
        if "errorMessage" in case:
            expected["Error"]["Message"] = case["errorMessage"]
        assert _fixup(parsed) == _normal(expected)
        return
    output = operation.output_shape
    if output is not None and output.members:  # as botocore's own protocol-test harness does
        output.serialization["resultWrapper"] = f"{name}Result"
    body = serialize_response(operation, case["result"], "req-1")
    parsed = _botocore_parse(body, 200, output)
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
    expected = copy.deepcopy(case["result"])
    if name == "XmlLists":
        # botocore's parser names a flattened list's elements after the *list member's*
        # locationName when it has one (``_member_key_name``): flattenedList and
        # flattenedList2 both read every ``<item>``. We write what botocore reads, so each
        # of the two comes back as the concatenation of both.
        both = expected["flattenedList"] + expected["flattenedList2"]
        expected["flattenedList"] = expected["flattenedList2"] = both
        # 4 flattened + 2 in renamedListMembers + 2 in structureList
        assert body.count(b"<item>") == 8
        assert b"<flattenedList>" not in body and b"<customName>" not in body
    assert _fixup(parsed) == _normal(expected)


def test_every_output_vector_counted() -> None:
    assert sum(len(s["cases"]) for s in OUTPUT_SUITES) == 38


# --------------------------------------------------------------------------- real IAM/STS

REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "iam",
        "CreateRole",
        {
            "Path": "/app/",
            "RoleName": "web-role",
            "AssumeRolePolicyDocument": json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*"}]}
            ),
            "Description": "Web tier & <friends>",
            "MaxSessionDuration": 7200,
            "PermissionsBoundary": "arn:aws:iam::123456789012:policy/boundary",
            "Tags": [{"Key": "Dept", "Value": "Eng"}, {"Key": "Env", "Value": ""}],
        },
    ),
    (
        "iam",
        "PutRolePolicy",
        {"RoleName": "r", "PolicyName": "p", "PolicyDocument": '{"Statement": []}'},
    ),
    (
        "iam",
        "AttachRolePolicy",
        {"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    ),
    ("iam", "ListRoles", {"PathPrefix": "/app/", "Marker": "abc+/=", "MaxItems": 10}),
    ("iam", "CreateUser", {"UserName": "alice", "Tags": [{"Key": "k", "Value": "v"}]}),
    (
        "iam",
        "TagRole",
        {"RoleName": "r", "Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(12)]},
    ),
    ("iam", "UntagRole", {"RoleName": "r", "TagKeys": ["a", "b"]}),
    (
        "iam",
        "SimulatePrincipalPolicy",
        {
            "PolicySourceArn": "arn:aws:iam::123456789012:user/alice",
            "ActionNames": ["s3:GetObject"],
            "ContextEntries": [
                {
                    "ContextKeyName": "aws:MultiFactorAuthPresent",
                    "ContextKeyValues": ["true"],
                    "ContextKeyType": "boolean",
                }
            ],
        },
    ),
    ("iam", "UpdateAccessKey", {"AccessKeyId": "AKIAEXAMPLE12345", "Status": "Inactive"}),
    ("iam", "ListAccountAliases", {}),
    (
        "sts",
        "AssumeRole",
        {
            "RoleArn": "arn:aws:iam::123456789012:role/web-role",
            "RoleSessionName": "s1",
            "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
            "Policy": '{"Version":"2012-10-17"}',
            "DurationSeconds": 900,
            "Tags": [{"Key": "Project", "Value": "X"}],
            "TransitiveTagKeys": ["Project"],
            "ExternalId": "ext-1",
            "SerialNumber": "arn:aws:iam::123456789012:mfa/alice",
            "TokenCode": "123456",
            "SourceIdentity": "alice",
        },
    ),
    ("sts", "GetCallerIdentity", {}),
    ("sts", "GetSessionToken", {"DurationSeconds": 129600}),
    ("sts", "DecodeAuthorizationMessage", {"EncodedMessage": "abc"}),
]


def _form(service: str, operation: str, params: dict[str, Any]) -> str:
    op = botocore.session.get_session().get_service_model(service).operation_model(operation)
    return percent_encode_sequence(QuerySerializer().serialize_to_request(params, op)["body"])


@pytest.mark.parametrize(("service", "operation", "params"), REQUESTS)
def test_botocore_request_round_trip(service: str, operation: str, params: dict[str, Any]) -> None:
    op, parsed = get_protocol(service).parse_request(
        parse_form_body(_form(service, operation, params))
    )
    assert op.name == operation
    assert parsed == params
    if op.input_shape is not None:
        validate_parameters(parsed, op.input_shape)  # botocore agrees on every type


NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
ROLE = {
    "Path": "/app/",
    "RoleName": "web-role",
    "RoleId": "AROAEXAMPLEEXAMPLE123",
    "Arn": "arn:aws:iam::123456789012:role/app/web-role",
    "CreateDate": NOW,
    "AssumeRolePolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%7D",
    "MaxSessionDuration": 3600,
    "Tags": [{"Key": "Dept", "Value": "R&D <core>"}],
    "RoleLastUsed": {
        "LastUsedDate": datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=UTC),
        "Region": "us-east-1",
    },
}

RESULTS: list[tuple[str, str, dict[str, Any]]] = [
    ("iam", "CreateRole", {"Role": ROLE}),
    ("iam", "GetRole", {"Role": ROLE}),
    (
        "iam",
        "ListRoles",
        {"Roles": [ROLE, {**ROLE, "RoleName": "b"}], "IsTruncated": True, "Marker": "m+/="},
    ),
    ("iam", "ListRoles", {"Roles": [], "IsTruncated": False}),
    ("iam", "GetRolePolicy", {"RoleName": "r", "PolicyName": "p", "PolicyDocument": "%7B%7D"}),
    (
        "iam",
        "CreateUser",
        {
            "User": {
                "Path": "/",
                "UserName": "alice",
                "UserId": "AIDAEXAMPLE",
                "Arn": "arn:aws:iam::123456789012:user/alice",
                "CreateDate": NOW,
            }
        },
    ),
    (
        "iam",
        "CreateAccessKey",
        {
            "AccessKey": {
                "UserName": "alice",
                "AccessKeyId": "AKIAX",
                "Status": "Active",
                "SecretAccessKey": "s/+x",
                "CreateDate": NOW,
            }
        },
    ),
    ("iam", "GetAccountSummary", {"SummaryMap": {"Users": 3, "Roles": 7, "Policies": 0}}),
    (
        "iam",
        "GetCredentialReport",
        {
            "Content": b"user,arn\nroot,x\r\n\x00\xff",
            "ReportFormat": "text/csv",
            "GeneratedTime": NOW,
        },
    ),
    (
        "iam",
        "CreateVirtualMFADevice",
        {
            "VirtualMFADevice": {
                "SerialNumber": "arn:aws:iam::123456789012:mfa/alice",
                "Base32StringSeed": b"JBSWY3DPEHPK3PXP",
                "QRCodePNG": b"\x89PNG\r\n",
            }
        },
    ),
    (
        "iam",
        "ListAttachedRolePolicies",
        {
            "AttachedPolicies": [
                {
                    "PolicyName": "ReadOnlyAccess",
                    "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
                }
            ],
            "IsTruncated": False,
        },
    ),
    ("iam", "DeleteRole", {}),
    (
        "sts",
        "AssumeRole",
        {
            "Credentials": {
                "AccessKeyId": "ASIAEXAMPLE",
                "SecretAccessKey": "sec",
                "SessionToken": "tok==",
                "Expiration": NOW,
            },
            "AssumedRoleUser": {
                "AssumedRoleId": "AROAEXAMPLE:s1",
                "Arn": "arn:aws:sts::123456789012:assumed-role/web-role/s1",
            },
            "PackedPolicySize": 6,
            "SourceIdentity": "alice",
        },
    ),
    (
        "sts",
        "GetCallerIdentity",
        {
            "UserId": "AIDAEXAMPLE",
            "Account": "123456789012",
            "Arn": "arn:aws:iam::123456789012:user/alice",
        },
    ),
]


@pytest.mark.parametrize(("service", "operation", "result"), RESULTS)
def test_botocore_response_round_trip(service: str, operation: str, result: dict[str, Any]) -> None:
    protocol = get_protocol(service)
    op = protocol.operation(operation)
    body = serialize_response(op, result, "5f7e-req")
    assert body.startswith(f'<{operation}Response xmlns="{protocol.xml_namespace}">'.encode())
    parsed = QueryParser().parse({"body": body, "headers": {}, "status_code": 200}, op.output_shape)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "5f7e-req"
    assert parsed == result


def test_no_output_operation_still_has_response_metadata() -> None:
    body = get_protocol("iam").serialize_response("DeleteRole", None, "rid")
    assert body == (
        b'<DeleteRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        b"<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DeleteRoleResponse>"
    )


def test_serializer_escapes_and_formats() -> None:
    op = get_protocol("sts").operation("GetCallerIdentity")
    body = serialize_response(op, {"UserId": "a&b<c>\r\x00", "Account": "1", "Arn": "x"}, "r&")
    assert b"<UserId>a&amp;b&lt;c&gt;&#13;\xef\xbf\xbd</UserId>" in body
    assert b"<RequestId>r&amp;</RequestId>" in body
    assert body.startswith(
        b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/'
        b'2011-06-15/"><GetCallerIdentityResult>'
    )
    role = get_protocol("iam").operation("GetRole")
    xml = serialize_response(role, {"Role": ROLE}, "r")
    assert b"<CreateDate>2024-05-06T07:08:09Z</CreateDate>" in xml
    assert b"<LastUsedDate>2024-01-02T03:04:05.123Z</LastUsedDate>" in xml
    assert (
        b"<Tags><member><Key>Dept</Key><Value>R&amp;D &lt;core&gt;</Value></member></Tags>" in xml
    )


def test_serializer_rejects_unknown_members_and_bad_types() -> None:
    op = get_protocol("sts").operation("GetCallerIdentity")
    with pytest.raises(ValueError, match="Nope"):
        serialize_response(op, {"Nope": 1}, "r")
    with pytest.raises(TypeError):
        serialize_response(
            get_protocol("sts").operation("AssumeRole"), {"PackedPolicySize": "6"}, "r"
        )


# --------------------------------------------------------------------------- real boto3


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _answer(seen: list[tuple[str, dict[str, Any]]]) -> Any:
    """A ``before-send`` hook: our parser/serializer answer a real botocore client."""
    iam = get_protocol("iam")

    def handler(request: Any, **_: Any) -> AWSResponse:
        try:
            op, params = iam.parse_request(parse_form_body(request.body))
        except QueryProtocolError as exc:
            status, body = iam.error_body(exc, "req-err")
            return AWSResponse(request.url, status, {}, _Raw(body))
        seen.append((op.name, params))
        if op.name == "GetRole" and params["RoleName"] == "ghost":
            status, code = iam.error_http_status("NoSuchEntityException")
            message = "The role with name ghost cannot be found."
            body = iam.serialize_error(code, message, status, "req-404")
            return AWSResponse(request.url, status, {}, _Raw(body))
        if op.name == "ListRoles":
            result: dict[str, Any] = {"Roles": [ROLE], "IsTruncated": False}
        else:
            result = {"Role": {**ROLE, "RoleName": params["RoleName"]}}
        return AWSResponse(request.url, 200, {}, _Raw(iam.serialize_response(op, result, "r1")))

    return handler


def _client(seen: list[tuple[str, dict[str, Any]]], validate: bool = True) -> Any:
    client = boto3.client(
        "iam",
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        endpoint_url="http://rolegate.test",
        config=Config(parameter_validation=validate, retries={"max_attempts": 1}),
    )
    client.meta.events.register("before-send", _answer(seen))
    return client


def test_real_boto3_client_round_trip() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    client = _client(seen)
    try:
        response = client.create_role(
            RoleName="web", AssumeRolePolicyDocument="{}", Tags=[{"Key": "a", "Value": "b"}]
        )
        assert response["Role"]["RoleName"] == "web"
        assert response["Role"]["CreateDate"] == NOW
        assert response["ResponseMetadata"]["RequestId"] == "r1"
        assert seen[-1] == (
            "CreateRole",
            {
                "RoleName": "web",
                "AssumeRolePolicyDocument": "{}",
                "Tags": [{"Key": "a", "Value": "b"}],
            },
        )
        assert client.list_roles(MaxItems=5)["Roles"][0]["Arn"] == ROLE["Arn"]
        assert seen[-1] == ("ListRoles", {"MaxItems": 5})
        with pytest.raises(client.exceptions.NoSuchEntityException) as caught:
            client.get_role(RoleName="ghost")
    finally:
        client.close()
    error = caught.value.response
    assert error["Error"] == {
        "Type": "Sender",
        "Code": "NoSuchEntity",
        "Message": "The role with name ghost cannot be found.",
    }
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["ResponseMetadata"]["RequestId"] == "req-404"


def test_real_boto3_client_sees_validation_error() -> None:
    client = _client([], validate=False)
    try:
        with pytest.raises(ClientError) as caught:
            client.get_role(RoleName="x" * 65)
    finally:
        client.close()
    response = caught.value.response
    assert response["Error"]["Code"] == "ValidationError"
    assert response["Error"]["Message"] == (
        "1 validation error detected: Value '" + "x" * 65 + "' at 'roleName' failed to satisfy "
        "constraint: Member must have length less than or equal to 64"
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["ResponseMetadata"]["RequestId"] == "req-err"


# --------------------------------------------------------------------------- errors


def _error(service: str, form: Any) -> QueryProtocolError:
    with pytest.raises(QueryProtocolError) as caught:
        get_protocol(service).parse_request(form)
    return caught.value


def _iam(body: str) -> QueryProtocolError:
    return _error("iam", parse_form_body("Version=2010-05-08&" + body))


def _validation(*messages: str) -> str:
    count = len(messages)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(messages)


def _fails(value: str | None, path: str, constraint: str) -> str:
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"


def test_too_long_role_name() -> None:
    error = _iam("Action=GetRole&RoleName=" + "r" * 65)
    assert (error.code, error.http_status, error.sender) == ("ValidationError", 400, True)
    assert error.message == _validation(
        _fails("r" * 65, "roleName", "Member must have length less than or equal to 64")
    )


def test_bad_pattern_and_empty_name_count_every_violation() -> None:
    error = _iam("Action=CreateRole&RoleName=a%20b&AssumeRolePolicyDocument=%7B%7D")
    assert error.message == _validation(
        _fails("a b", "roleName", "Member must satisfy regular expression pattern: [\\w+=,.@-]+")
    )
    error = _iam("Action=CreateRole&RoleName=&AssumeRolePolicyDocument=")
    pattern = "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
    assert error.message == _validation(
        _fails("", "roleName", "Member must satisfy regular expression pattern: [\\w+=,.@-]+"),
        _fails("", "roleName", "Member must have length greater than or equal to 1"),
        _fails(
            "",
            "assumeRolePolicyDocument",
            f"Member must satisfy regular expression pattern: {pattern}",
        ),
        _fails(
            "", "assumeRolePolicyDocument", "Member must have length greater than or equal to 1"
        ),
    )


def test_missing_required_members() -> None:
    error = _iam("Action=PutRolePolicy&RoleName=r")
    assert error.code == "ValidationError"
    assert error.message == _validation(
        _fails(None, "policyName", "Member must not be null"),
        _fails(None, "policyDocument", "Member must not be null"),
    )
    # ... and inside list elements, with AWS's element path.
    error = _iam("Action=TagRole&RoleName=r&Tags.member.1.Key=k&Tags.member.2.Value=v")
    assert error.message == _validation(
        _fails(None, "tags.1.member.value", "Member must not be null"),
        _fails(None, "tags.2.member.key", "Member must not be null"),
    )


def test_number_range_enum_and_list_constraints() -> None:
    error = _iam("Action=ListRoles&MaxItems=1001")
    assert error.message == _validation(
        _fails("1001", "maxItems", "Member must have value less than or equal to 1000")
    )
    error = _iam("Action=UpdateAccessKey&AccessKeyId=AKIAEXAMPLE12345&Status=Paused")
    assert error.message == _validation(
        _fails(
            "Paused", "status", "Member must satisfy enum value set: [Active, Inactive, Expired]"
        )
    )
    error = _iam("Action=UntagRole&RoleName=r&TagKeys.member.1=ok&TagKeys.member.2=%23bad")
    assert error.message == _validation(
        _fails(
            "[ok, #bad]",
            "tagKeys",
            "Member must satisfy constraint: [Member must satisfy "
            "regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+]",
        )
    )
    # PolicyArns has no modeled max (its 10 is a business rule, for the handler); Tags do.
    keys = "&".join(f"TransitiveTagKeys.member.{i}=k{i}" for i in range(1, 52))
    error = _error(
        "sts",
        parse_form_body(
            "Action=AssumeRole&Version=2011-06-15"
            "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr"
            f"&RoleSessionName=s&DurationSeconds=899&{keys}"
        ),
    )
    shown = "[" + ", ".join(f"k{i}" for i in range(1, 52)) + "]"
    assert error.message == _validation(
        _fails("s", "roleSessionName", "Member must have length greater than or equal to 2"),
        _fails("899", "durationSeconds", "Member must have value greater than or equal to 900"),
        _fails(shown, "transitiveTagKeys", "Member must have length less than or equal to 50"),
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "Action=ListRoles&MaxItems=ten",
            "Value 'ten' for parameter MaxItems is invalid: expected an integer.",
        ),
        (
            "Action=ListRoles&MaxItems=1.5",
            "Value '1.5' for parameter MaxItems is invalid: expected an integer.",
        ),
        (
            "Action=ListRoles&MaxItems=2147483648",
            "Value '2147483648' for parameter MaxItems is "
            "invalid: expected a integer in "
            "[-2147483648, 2147483647].",
        ),
        ("Action=UploadSSHPublicKey&UserName=u&SSHPublicKeyBody=k&Nope=1", None),
        ("Action=SetSecurityTokenServicePreferences&GlobalEndpointTokenVersion=v1Token", None),
        (
            "Action=ListPolicies&OnlyAttached=yes",
            "Value 'yes' for parameter OnlyAttached is invalid: expected true or false.",
        ),
    ],
)
def test_malformed_values_are_invalid_parameter_value(body: str, message: str | None) -> None:
    if message is None:  # valid requests: unknown extra parameters are ignored
        get_protocol("iam").parse_request(parse_form_body("Version=2010-05-08&" + body))
        return
    error = _iam(body)
    assert (error.code, error.http_status, error.message) == ("InvalidParameterValue", 400, message)


def test_action_and_version_errors() -> None:
    error = _iam("RoleName=r")
    assert (error.code, error.http_status, error.message) == (
        "MissingAction",
        400,
        "Missing Action",
    )
    error = _iam("Action=CreateBucket")
    assert (error.code, error.http_status) == ("InvalidAction", 400)
    assert error.message == "Could not find operation CreateBucket for version 2010-05-08"
    error = _error("iam", parse_form_body("Action=ListRoles&Version=2011-06-15"))
    assert error.message == "Could not find operation ListRoles for version 2011-06-15"
    error = _error("sts", parse_form_body("Action=GetCallerIdentity"))
    assert error.code == "InvalidAction"
    assert (
        error.message == "Could not find operation GetCallerIdentity for version "
        "NO_VERSION_SPECIFIED"
    )


def test_form_shapes_duplicates_and_unknown_keys() -> None:
    sts = get_protocol("sts")
    form = {"Action": ["GetCallerIdentity"], "Version": ["2011-06-15"], "X.member.1": ["y"]}
    assert sts.parse_request(form)[1] == {}
    _, params = get_protocol("iam").parse_request(
        [
            ("Action", "GetRole"),
            ("Version", "2010-05-08"),
            ("RoleName", "first"),
            ("RoleName", "second"),
        ]
    )
    assert params == {"RoleName": "first"}


def test_blob_and_timestamp_coercion() -> None:
    model = ServiceProtocol.from_model(
        {
            "metadata": {"protocol": "query", "apiVersion": "2020-01-08"},
            "operations": {"Op": {"name": "Op", "input": {"shape": "In"}}},
            "shapes": {
                "In": {
                    "type": "structure",
                    "members": {
                        "B": {"shape": "Blob"},
                        "T": {"shape": "Time"},
                        "E": {"shape": "Epoch"},
                        "R": {"shape": "Rfc"},
                    },
                },
                "Blob": {"type": "blob"},
                "Time": {"type": "timestamp"},
                "Epoch": {"type": "timestamp", "timestampFormat": "unixTimestamp"},
                "Rfc": {"type": "timestamp", "timestampFormat": "rfc822"},
            },
        }
    )
    _, params = model.parse_request(
        parse_form_body(
            "Action=Op&Version=2020-01-08&B=AAH%2F&T=2024-05-06T09%3A08%3A09%2B02%3A00&E=1.5"
            "&R=Mon%2C+06+May+2024+07%3A08%3A09+GMT"
        )
    )
    assert params == {
        "B": b"\x00\x01\xff",
        "T": datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        "E": datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC),
        "R": datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
    }
    for bad in ("B=%21%21", "T=yesterday", "E=NaN", "R=soon"):
        with pytest.raises(QueryProtocolError) as caught:
            model.parse_request(parse_form_body("Action=Op&Version=2020-01-08&" + bad))
        assert caught.value.code == "InvalidParameterValue"


def test_model_patterns_follow_java_semantics() -> None:
    name = compile_model_pattern("[\\w+=,.@-]+")
    assert name.fullmatch("web-role_1@x") and not name.fullmatch("café")  # Java \w is ASCII
    tag = compile_model_pattern("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+")
    assert tag.fullmatch("Café 東京 ٣") and not tag.fullmatch("a#b")
    # Java (and Python) read "\u10000" as U+1000 then "0": supplementary chars do not match.
    policy = compile_model_pattern(
        "[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD"
        "\\u10000-\\u10FFFF]+"
    )
    assert policy.fullmatch('{"a": "é"}') and not policy.fullmatch("\U0001f600")
    assert compile_model_pattern("[\\w+=,.@-]+") is name  # compiled once


def test_modeled_error_statuses() -> None:
    iam = get_protocol("iam")
    assert error_http_status("iam", "NoSuchEntityException") == (404, "NoSuchEntity")
    assert iam.error_http_status("EntityAlreadyExistsException") == (409, "EntityAlreadyExists")
    assert iam.error_http_status("DeleteConflictException") == (409, "DeleteConflict")
    assert iam.error_http_status("LimitExceededException") == (409, "LimitExceeded")
    assert iam.error_http_status("MalformedPolicyDocumentException") == (
        400,
        "MalformedPolicyDocument",
    )
    info = iam.modeled_error_for_code("NoSuchEntity")
    assert info is not None and info.shape_name == "NoSuchEntityException"
    raised = get_protocol("sts").error("PackedPolicyTooLargeException", "too big")
    assert (raised.code, raised.http_status) == ("PackedPolicyTooLarge", 400)
    with pytest.raises(KeyError):
        iam.error_http_status("Role")


def test_error_body_shape() -> None:
    body = serialize_error("iam", "NoSuchEntity", "Role <x> & co", 404, "rid-1")
    assert body == (
        b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error>'
        b"<Type>Sender</Type><Code>NoSuchEntity</Code><Message>Role &lt;x&gt; &amp; co</Message>"
        b"</Error><RequestId>rid-1</RequestId></ErrorResponse>"
    )
    receiver = serialize_error("sts", "InternalFailure", "boom", 500, "r", sender=False)
    assert b"<Type>Receiver</Type>" in receiver


# --------------------------------------------------------------------------- robustness

RECURSIVE = ServiceProtocol.from_model(
    {
        "metadata": {"protocol": "query", "apiVersion": "2020-01-08"},
        "operations": {"Op": {"name": "Op", "input": {"shape": "Node"}}},
        "shapes": {
            "Node": {
                "type": "structure",
                "required": ["Name"],
                "members": {
                    "Name": {"shape": "Name"},
                    "Next": {"shape": "Node"},
                    "Kids": {"shape": "Kids"},
                    "Attrs": {"shape": "Attrs"},
                    "Count": {"shape": "Int"},
                    "Flag": {"shape": "Bool"},
                    "Data": {"shape": "Blob"},
                    "When": {"shape": "Time"},
                    "Ratio": {"shape": "Double"},
                },
            },
            "Kids": {"type": "list", "member": {"shape": "Node"}, "max": 3},
            "Attrs": {"type": "map", "key": {"shape": "Name"}, "value": {"shape": "Kids"}},
            "Name": {"type": "string", "min": 1, "max": 5, "pattern": "[\\p{L}]+"},
            "Int": {"type": "integer", "min": -5},
            "Bool": {"type": "boolean"},
            "Blob": {"type": "blob"},
            "Time": {"type": "timestamp"},
            "Double": {"type": "double"},
        },
    }
)


def test_nesting_depth_is_bounded() -> None:
    deep = "Action=Op&Version=2020-01-08&Name=a&" + "Next." * (MAX_NESTING_DEPTH + 5) + "Name=b"
    with pytest.raises(QueryProtocolError) as caught:
        RECURSIVE.parse_request(parse_form_body(deep))
    assert caught.value.code == "InvalidParameterValue"
    _, params = RECURSIVE.parse_request(
        parse_form_body(
            "Action=Op&Version=2020-01-08&Name=a&Next.Name=b&Kids.member.1.Name=c"
            "&Attrs.entry.1.key=k&Attrs.entry.1.value.member.1.Name=d"
        )
    )
    assert params == {
        "Name": "a",
        "Next": {"Name": "b"},
        "Kids": [{"Name": "c"}],
        "Attrs": {"k": [{"Name": "d"}]},
    }


_PARTS = st.sampled_from(
    [
        "Name",
        "Next",
        "Kids",
        "Attrs",
        "member",
        "entry",
        "key",
        "value",
        "Count",
        "Flag",
        "Data",
        "When",
        "Ratio",
        "1",
        "2",
        "0",
        "-1",
        "",
        "Action",
        "Version",
        "x",
    ]
)
_KEYS = st.lists(_PARTS, min_size=1, max_size=6).map(".".join)
_VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "a",
            "ab",
            "true",
            "TRUE",
            "1",
            "-7",
            "1e3",
            "NaN",
            "AAH/",
            "99999999999",
            "2024-01-01T00:00:00Z",
            "Op",
            "2020-01-08",
            "\x00",
            "é",
        ]
    ),
    st.text(max_size=8),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_KEYS, _VALUES), max_size=12), st.booleans())
def test_structured_garbage_only_raises_protocol_errors(
    pairs: list[tuple[str, str]], well_formed_action: bool
) -> None:
    if well_formed_action:
        pairs = [("Action", "Op"), ("Version", "2020-01-08"), *pairs]
    for service in (RECURSIVE, get_protocol("iam")):
        with contextlib.suppress(QueryProtocolError):
            service.parse_request(pairs)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.binary(max_size=64), st.text(max_size=64)),
    st.sampled_from(
        ["", "Action=CreateRole&Version=2010-05-08&", "Action=AssumeRole&Version=2011-06-15&"]
    ),
)
def test_urlencoded_garbage_only_raises_protocol_errors(garbage: bytes | str, prefix: str) -> None:
    body = prefix.encode() + garbage if isinstance(garbage, bytes) else prefix + garbage
    for service in ("iam", "sts"):
        try:
            parse_request(service, parse_form_body(body))
        except QueryProtocolError as exc:
            assert exc.code in {
                "MissingAction",
                "InvalidAction",
                "ValidationError",
                "InvalidParameterValue",
            }
            assert 400 <= exc.http_status < 500


def test_quoted_keys_decode_like_botocore() -> None:
    body = urllib.parse.urlencode(
        {"Action": "GetRole", "Version": "2010-05-08", "RoleName": "a+b=c"}
    )
    assert get_protocol("iam").parse_request(parse_form_body(body))[1] == {"RoleName": "a+b=c"}
