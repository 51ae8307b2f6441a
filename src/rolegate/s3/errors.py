"""S3 errors: a code, a message, an HTTP status and extra `<Error>` elements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ACCESS_DENIED",
    "S3Error",
    "access_denied",
    "bucket_not_empty",
    "invalid_argument",
    "invalid_bucket_name",
    "invalid_request",
    "malformed_xml",
    "no_such_bucket",
    "no_such_key",
    "no_such_upload",
    "not_implemented",
    "precondition_failed",
]

ACCESS_DENIED = "Access Denied"


class S3Error(Exception):
    """An error answered as S3's `<Error>` document (no body for HEAD)."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})
        # The engine's failure details of an AccessDenied (shown by the console, never sent).
        self.explanation: Mapping[str, Any] | None = None


def access_denied(message: str = ACCESS_DENIED) -> S3Error:
    return S3Error("AccessDenied", message, 403)


def no_such_bucket(bucket: str) -> S3Error:
    return S3Error(
        "NoSuchBucket", "The specified bucket does not exist", 404, extra={"BucketName": bucket}
    )


def no_such_key(key: str) -> S3Error:
    return S3Error("NoSuchKey", "The specified key does not exist.", 404, extra={"Key": key})


def no_such_upload(upload_id: str) -> S3Error:
    return S3Error(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may "
        "have been aborted or completed.",
        404,
        extra={"UploadId": upload_id},
    )


def bucket_not_empty(bucket: str) -> S3Error:
    return S3Error(
        "BucketNotEmpty",
        "The bucket you tried to delete is not empty",
        409,
        extra={"BucketName": bucket},
    )


def invalid_bucket_name(bucket: str) -> S3Error:
    return S3Error(
        "InvalidBucketName", "The specified bucket is not valid.", 400, extra={"BucketName": bucket}
    )


def invalid_argument(message: str, name: str | None = None, value: str | None = None) -> S3Error:
    extra = {} if name is None else {"ArgumentName": name, "ArgumentValue": value}
    return S3Error("InvalidArgument", message, 400, extra=extra)


def invalid_request(message: str) -> S3Error:
    return S3Error("InvalidRequest", message, 400)


def malformed_xml() -> S3Error:
    return S3Error(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
        400,
    )


def not_implemented(what: str) -> S3Error:
    return S3Error(
        "NotImplemented",
        f"A header you provided implies functionality that is not implemented: {what}",
        501,
    )


def precondition_failed(condition: str) -> S3Error:
    return S3Error(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        412,
        extra={"Condition": condition},
    )
