"""What a served request becomes in the audit trail: the Query path's and S3's records.

Pure functions over what the gateway and the S3 endpoint already know once a request is
answered (no store access, nothing recomputed): the caller's identity, the operation, its
parameters and result or error, the resource it was authorized on.

What is recorded, and where:

- Query (IAM, STS): every call whose signature verified and whose caller is known (success
  or failure, AccessDenied included), in the caller's account. A request that failed
  authentication (bad signature, unknown or inactive key, expired or foreign token) is not
  recorded: nobody can be named, and an unauthenticated sender must not write events into an
  account. A cross-account AssumeRole (allowed, or refused with AccessDenied) is also
  written to the role's account, with one sharedEventID; that copy names the caller as an
  `AWSAccount`.
- S3: every routed request that got past authentication (anonymous ones included), in the
  caller's account and, when another account owns the bucket, in the owner's too (one
  sharedEventID); an anonymous request only in the owner's. Object reads and writes are
  Data events (`managementEvent` false), bucket operations Management events.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from .record import (
    DATA,
    MANAGEMENT,
    SECRET_MEMBERS,
    SECRET_QUERY_PREFIX,
    api_call,
    clean,
    read_only_name,
    request_event_ids,
    resource_of_arn,
    shared_copies,
    shared_identity_for_caller,
)

if TYPE_CHECKING:
    from ..s3.call import Call

__all__ = [
    "AUTHENTICATION_FAILURES",
    "CAPTURE_KIND",
    "S3_DATA_EVENTS",
    "capture_query",
    "capture_s3",
    "query_records",
    "records_of_capture",
    "s3_records",
]

# Error codes that mean the caller was not authenticated: such requests are not recorded.
AUTHENTICATION_FAILURES: Final = frozenset(
    {"InvalidClientTokenId", "ExpiredToken", "SignatureDoesNotMatch", "IncompleteSignature"}
)
# A captured request (JSON the journal keeps until its records are built) names its kind.
CAPTURE_KIND: Final = "captured"
QUERY_CAPTURE: Final = "query"
S3_CAPTURE: Final = "s3"
_GLOBAL_SERVICES: Final = frozenset({"iam"})  # logged in us-east-1 whatever the endpoint
# Responses worth recording although the call reads: they name the session they create.
_SESSION_RESULTS: Final = frozenset({"AssumeRole", "GetSessionToken", "GetFederationToken"})

S3_DATA_EVENTS: Final = frozenset(
    {
        "GetObject",
        "HeadObject",
        "PutObject",
        "CopyObject",
        "DeleteObject",
        "DeleteObjects",
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "ListParts",
        "ListObjects",
        "ListObjectsV2",
        "ListMultipartUploads",
    }
)
_S3_LISTS: Final = frozenset({"ListObjects", "ListObjectsV2", "ListMultipartUploads"})
_S3_COPIED_HEADERS: Final = ("x-amz-copy-source",)
# EC2 resource ARNs an EC2 call is authorized on (`arn:aws:ec2:<region>:<account>:instance/
# i-...`, images without an account); `instance/*` (RunInstances) names no resource.
_EC2_ARN: Final = re.compile(r"arn:aws:ec2:[^:]*:([0-9]{12})?:(instance|image)/([^*]+)")
_EC2_TYPES: Final = {"instance": "AWS::EC2::Instance", "image": "AWS::EC2::Image"}


def _ec2_resource(arn: str) -> dict[str, str] | None:
    found = _EC2_ARN.fullmatch(arn)
    if found is None:
        return None
    resource = {"ARN": arn, "type": _EC2_TYPES[found.group(2)]}
    if found.group(1):
        resource["accountId"] = found.group(1)
    return resource


def capture_query(
    *,
    identity: Mapping[str, Any],
    service: str,
    operation: str,
    params: Mapping[str, Any] | None,
    result: Mapping[str, Any] | None,
    error: tuple[str, str] | None,
    resource_arns: Sequence[str],
    event_time: datetime,
    region: str,
    source_ip: str,
    user_agent: str | None,
    request_id: str,
) -> dict[str, Any]:
    """What the request path keeps of one IAM/STS/EC2 call (`error`: code and message of a
    failure): JSON, its parameters and result already `clean` (no secret leaves the
    request). `records_of_capture` builds the records from it (their event ids follow from
    its time and request id: `record.request_event_ids`)."""
    read_only = read_only_name(operation)
    response = None
    if error is None and result and (not read_only or operation in _SESSION_RESULTS):
        response = clean(result)
    return {
        CAPTURE_KIND: QUERY_CAPTURE,
        "time": event_time.timestamp(),
        "identity": identity,
        "service": service,
        "operation": operation,
        "params": clean(params) if params else None,
        "response": response,
        "error": error,
        "arns": resource_arns,
        "region": region,
        "ip": source_ip,
        "agent": user_agent,
        "requestID": request_id,
    }


def _query_records_of(capture: Mapping[str, Any]) -> list[dict[str, Any]]:
    identity, service, operation = capture["identity"], capture["service"], capture["operation"]
    params, error = capture["params"], capture["error"]
    resources = []
    others: list[str] = []
    if operation == "AssumeRole" and params is not None:
        found = resource_of_arn(str(params.get("roleArn", "")))
        if found is not None:
            resources.append(found)
            if error is None or error[0] == "AccessDenied":
                others.append(found["accountId"])
    else:
        for arn in capture["arns"]:
            found = resource_of_arn(arn) or _ec2_resource(arn)
            if found is not None and found not in resources:
                resources.append(found)
    event_ids = request_event_ids(capture["time"], capture["requestID"])
    record = api_call(
        identity=identity,
        event_time=capture["time"],
        event_source=f"{service}.amazonaws.com",
        event_name=operation,
        region="us-east-1" if service in _GLOBAL_SERVICES else capture["region"],
        source_ip=capture["ip"],
        user_agent=capture["agent"],
        request_id=capture["requestID"],
        recipient=str(identity.get("accountId", "")),
        read_only=read_only_name(operation),
        request_parameters=params,
        response_elements=capture["response"],
        error_code=_error_code(service, error[0]) if error else None,
        error_message=error[1] if error else None,
        resources=resources,
        event_ids=event_ids,
    )
    return shared_copies(record, others, event_ids=event_ids)


def query_records(**call: Any) -> list[dict[str, Any]]:
    """The records of one IAM/STS/EC2 call (the arguments of `capture_query`)."""
    return _query_records_of(capture_query(**call))


def _error_code(service: str, code: str) -> str:
    """EC2's records prefix the code with the fault side (`Client.UnauthorizedOperation`)."""
    if service != "ec2":
        return code
    return f"Server.{code}" if code == "InternalFailure" else f"Client.{code}"


def _s3_parameters(call: Call) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    if call.route.bucket is not None:
        parameters["bucketName"] = call.route.bucket
    parameters["Host"] = call.headers.get("host", "")
    if call.route.key is not None:
        parameters["key"] = call.route.key
    for name, value in call.query_pairs:
        lowered = name.lower()
        if lowered.startswith(SECRET_QUERY_PREFIX) or lowered in SECRET_MEMBERS:
            continue
        parameters[name] = value
    for header in _S3_COPIED_HEADERS:
        copied = call.headers.get(header)
        if copied is not None:
            parameters[header] = copied
    return parameters


def _s3_resources(call: Call, owner: str | None) -> list[dict[str, str]]:
    bucket = call.route.bucket
    if bucket is None:
        return []
    resources: list[dict[str, str]] = []
    operation = call.route.operation
    if call.route.key is not None:
        resources.append({"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{call.key}"})
    elif operation in _S3_LISTS:
        prefix = call.query.get("prefix", "")
        resources.append(
            {"type": "AWS::S3::Object", "ARNPrefix": f"arn:aws:s3:::{bucket}/{prefix}"}
        )
    bucket_resource = {"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}
    if owner:
        bucket_resource = {"accountId": owner, **bucket_resource}
    resources.append(bucket_resource)
    return resources


def capture_s3(
    call: Call,
    *,
    bucket_owner: str | None,
    error: tuple[str, str] | None,
    response_headers: Mapping[str, str],
    host_id: str,
) -> dict[str, Any] | None:
    """What the request path keeps of one S3 request (JSON; `records_of_capture` builds
    its records); None when nobody can receive it: an anonymous request to a bucket that
    does not exist."""
    caller = call.info.caller
    recipient = caller.account_id or bucket_owner
    if not recipient:
        return None
    verified = call.verified
    additional: dict[str, Any] = {}
    if verified is not None:
        additional["SignatureVersion"] = "SigV4"
        additional["AuthenticationMethod"] = (
            "QueryString" if verified.is_presigned else "AuthHeader"
        )
    length_in = call.headers.get("content-length", "0")
    length_out = response_headers.get("content-length", "0")
    additional["bytesTransferredIn"] = int(length_in) if length_in.isdigit() else 0
    additional["bytesTransferredOut"] = int(length_out) if length_out.isdigit() else 0
    additional["x-amz-id-2"] = host_id
    return {
        CAPTURE_KIND: S3_CAPTURE,
        "time": call.info.now.timestamp(),
        "identity": shared_identity_for_caller(caller),
        "operation": call.route.operation,
        "recipient": recipient,
        "owner": bucket_owner if caller.account_id else None,
        "readOnly": call.method in ("GET", "HEAD"),
        "params": _s3_parameters(call),
        "resources": _s3_resources(call, bucket_owner),
        "additional": additional,
        "error": error,
        "region": call.info.region,
        "ip": call.info.source_ip,
        "agent": call.headers.get("user-agent"),
        "requestID": call.request_id,
    }


def _s3_records_of(capture: Mapping[str, Any]) -> list[dict[str, Any]]:
    operation, error = capture["operation"], capture["error"]
    event_ids = request_event_ids(capture["time"], capture["requestID"])
    record = api_call(
        identity=capture["identity"],
        event_time=capture["time"],
        event_source="s3.amazonaws.com",
        event_name=operation,
        region=capture["region"],
        source_ip=capture["ip"],
        user_agent=capture["agent"],
        request_id=capture["requestID"],
        recipient=capture["recipient"],
        read_only=capture["readOnly"],
        request_parameters=capture["params"],
        error_code=error[0] if error else None,
        error_message=error[1] if error else None,
        resources=capture["resources"],
        category=DATA if operation in S3_DATA_EVENTS else MANAGEMENT,
        additional=capture["additional"],
        event_ids=event_ids,
    )
    owner = capture["owner"]
    return shared_copies(record, [owner] if owner else [], event_ids=event_ids)


def s3_records(call: Call, **outcome: Any) -> list[dict[str, Any]]:
    """The records of one S3 request (the arguments of `capture_s3`)."""
    captured = capture_s3(call, **outcome)
    return _s3_records_of(captured) if captured is not None else []


def records_of_capture(capture: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The CloudTrail records of a request the request path captured (`capture_query`,
    `capture_s3`); ValueError when `capture` is not one."""
    kind = capture.get(CAPTURE_KIND)
    if kind == QUERY_CAPTURE:
        return _query_records_of(capture)
    if kind == S3_CAPTURE:
        return _s3_records_of(capture)
    raise ValueError(f"not a captured request: {kind!r}")
