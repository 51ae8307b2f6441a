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
    resource_of_arn,
    shared_copies,
    shared_identity_for_caller,
)

if TYPE_CHECKING:
    from ..s3.call import Call

__all__ = ["AUTHENTICATION_FAILURES", "S3_DATA_EVENTS", "query_records", "s3_records"]

# Error codes that mean the caller was not authenticated: such requests are not recorded.
AUTHENTICATION_FAILURES: Final = frozenset(
    {"InvalidClientTokenId", "ExpiredToken", "SignatureDoesNotMatch", "IncompleteSignature"}
)
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


def query_records(
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
) -> list[dict[str, Any]]:
    """The records of one IAM/STS/EC2 call (`error`: code and message of a failure)."""
    read_only = read_only_name(operation)
    response = None
    if error is None and result and (not read_only or operation in _SESSION_RESULTS):
        response = clean(result)
    resources = []
    others: list[str] = []
    if operation == "AssumeRole" and params is not None:
        found = resource_of_arn(str(params.get("RoleArn", "")))
        if found is not None:
            resources.append(found)
            if error is None or error[0] == "AccessDenied":
                others.append(found["accountId"])
    else:
        for arn in resource_arns:
            found = resource_of_arn(arn) or _ec2_resource(arn)
            if found is not None and found not in resources:
                resources.append(found)
    record = api_call(
        identity=identity,
        event_time=event_time,
        event_source=f"{service}.amazonaws.com",
        event_name=operation,
        region="us-east-1" if service in _GLOBAL_SERVICES else region,
        source_ip=source_ip,
        user_agent=user_agent,
        request_id=request_id,
        recipient=str(identity.get("accountId", "")),
        read_only=read_only,
        request_parameters=clean(params) if params else None,
        response_elements=response,
        error_code=_error_code(service, error[0]) if error else None,
        error_message=error[1] if error else None,
        resources=resources,
    )
    return shared_copies(record, others)


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


def s3_records(
    call: Call,
    *,
    bucket_owner: str | None,
    error: tuple[str, str] | None,
    response_headers: Mapping[str, str],
    host_id: str,
) -> list[dict[str, Any]]:
    """The records of one S3 request (none when nobody can receive it: an anonymous request
    to a bucket that does not exist)."""
    caller = call.info.caller
    recipient = caller.account_id or bucket_owner
    if not recipient:
        return []
    operation = call.route.operation
    category = DATA if operation in S3_DATA_EVENTS else MANAGEMENT
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
    record = api_call(
        identity=shared_identity_for_caller(caller),
        event_time=call.info.now,
        event_source="s3.amazonaws.com",
        event_name=operation,
        region=call.info.region,
        source_ip=call.info.source_ip,
        user_agent=call.headers.get("user-agent"),
        request_id=call.request_id,
        recipient=recipient,
        read_only=call.method in ("GET", "HEAD"),
        request_parameters=_s3_parameters(call),
        error_code=error[0] if error else None,
        error_message=error[1] if error else None,
        resources=_s3_resources(call, bucket_owner),
        category=category,
        additional=additional,
    )
    if not caller.account_id or not bucket_owner:
        return [record]
    return shared_copies(record, [bucket_owner])
