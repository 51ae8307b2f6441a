"""REST-XML (S3) round trips against botocore's own serializer and parser."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.handlers import parse_get_bucket_location  # type: ignore[import-untyped]
from botocore.parsers import RestXMLParser  # type: ignore[import-untyped]
from botocore.serialize import create_serializer  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st
from urllib3 import HTTPHeaderDict

from rolegate.wire.restxml import (
    MALFORMED_XML_MESSAGE,
    S3_NAMESPACE,
    RestXmlError,
    error_document,
    operation_model,
    parse_rest_request,
    serialize_rest_response,
    serialize_s3_error,
    split_header_list,
)

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
WHEN_MS = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)


# ---------------------------------------------------------------------------- requests


def _http_request(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """What boto3 would send for ``params``, split the way a server sees it."""
    model = operation_model(operation)
    request = create_serializer("rest-xml", include_validation=False).serialize_to_request(
        params, model
    )
    template, _, static_query = model.http["requestUri"].partition("?")
    pattern = re.sub(
        r"\{([^}]+?)(\+?)\}",
        lambda m: f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})",
        template,
    )
    path = request["url_path"].partition("?")[0]
    match = re.fullmatch(pattern, path)
    assert match is not None, (pattern, path)
    labels = {k: unquote(v) for k, v in match.groupdict().items()}
    query: list[tuple[str, str]] = []
    for part in static_query.split("&"):
        if part:
            key, _, value = part.partition("=")
            query.append((key, value))
    for key, value in request["query_string"].items():
        for item in value if isinstance(value, list) else [value]:
            query.append((key, str(item)))
    body = request["body"]
    if not isinstance(body, (bytes, bytearray)):
        body = b"" if body is None else body.read() if hasattr(body, "read") else body
    headers = [(k, str(v)) for k, v in request["headers"].items()]
    return {"uri_labels": labels, "query": query, "headers": headers, "body": bytes(body)}


def _round_trip(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    http = _http_request(operation, params)
    payload = operation_model(operation).input_shape.serialization.get("payload")
    shape = operation_model(operation).input_shape.members.get(payload or "")
    if shape is not None and shape.serialization.get("streaming"):
        http["body"] = None  # the caller streams it
    return parse_rest_request(operation, **http)


REQUEST_CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    (
        "CreateBucket",
        {
            "Bucket": "my-bucket",
            "ACL": "private",
            "CreateBucketConfiguration": {
                "LocationConstraint": "eu-west-1",
                "Tags": [{"Key": "a", "Value": "b"}, {"Key": "c", "Value": ""}],
            },
            "ObjectLockEnabledForBucket": True,
            "ObjectOwnership": "BucketOwnerEnforced",
        },
        set(),
    ),
    ("CreateBucket", {"Bucket": "plain"}, set()),
    (
        "PutObject",
        {
            "Bucket": "b",
            "Key": "dir/sub dir/ünïcode+%2F?.txt",
            "Body": b"hello",
            "ContentType": "text/plain; charset=utf-8",
            "ContentLength": 5,
            "ContentMD5": "XUFAKrxLKna5cZ2REBfFkg==",
            "Metadata": {"color": "red", "owner-name": "Zoë"},
            "ChecksumAlgorithm": "CRC32",
            "ChecksumCRC32": "NhCmhg==",
            "ChecksumSHA256": "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=",
            "Expires": WHEN,
            "StorageClass": "STANDARD_IA",
            "Tagging": "a=b&c=d",
            "ObjectLockRetainUntilDate": WHEN,
            "BucketKeyEnabled": False,
            "IfNoneMatch": "*",
            "WriteOffsetBytes": 9_000_000_000,
        },
        {"Body"},
    ),
    (
        "GetObject",
        {
            "Bucket": "b",
            "Key": "k",
            "Range": "bytes=0-99",
            "IfMatch": '"abc"',
            "IfNoneMatch": '"def"',
            "IfModifiedSince": WHEN,
            "IfUnmodifiedSince": WHEN,
            "ResponseContentType": "application/json",
            "ResponseExpires": WHEN,
            "VersionId": "v1",
            "PartNumber": 3,
            "ChecksumMode": "ENABLED",
        },
        set(),
    ),
    (
        "ListObjectsV2",
        {
            "Bucket": "b",
            "Delimiter": "/",
            "EncodingType": "url",
            "MaxKeys": 250,
            "Prefix": "photos/2024 &=/",
            "ContinuationToken": "tok==",
            "FetchOwner": True,
            "StartAfter": "a",
            "RequestPayer": "requester",
            "ExpectedBucketOwner": "123456789012",
            "OptionalObjectAttributes": ["RestoreStatus"],
        },
        set(),
    ),
    (
        "DeleteObjects",
        {
            "Bucket": "b",
            "Delete": {
                "Objects": [
                    {"Key": "a&b<c>"},
                    {"Key": "x", "VersionId": "v", "ETag": '"e"', "Size": 12},
                    {"Key": "t", "LastModifiedTime": WHEN},
                ],
                "Quiet": True,
            },
            "BypassGovernanceRetention": True,
            "ChecksumAlgorithm": "SHA256",
        },
        set(),
    ),
    (
        "CompleteMultipartUpload",
        {
            "Bucket": "b",
            "Key": "big/object",
            "UploadId": "upload-1",
            "MultipartUpload": {
                "Parts": [
                    {"ETag": '"e1"', "PartNumber": 1, "ChecksumCRC32": "AAAAAA=="},
                    {"ETag": '"e2"', "PartNumber": 2},
                ]
            },
            "ChecksumType": "COMPOSITE",
            "IfNoneMatch": "*",
        },
        set(),
    ),
    (
        "UploadPart",
        {
            "Bucket": "b",
            "Key": "k",
            "UploadId": "u",
            "PartNumber": 7,
            "Body": b"data",
            "ContentLength": 4,
            "ChecksumCRC32C": "yZRlqg==",
        },
        {"Body"},
    ),
    (
        "PutBucketPolicy",
        {
            "Bucket": "b",
            "Policy": '{"Version":"2012-10-17","Statement":[]}',
            "ConfirmRemoveSelfBucketAccess": True,
        },
        set(),
    ),
    (
        "CopyObject",
        {
            "Bucket": "dst",
            "Key": "new key",
            "CopySource": "src/old%20key?versionId=v1",
            "CopySourceIfModifiedSince": WHEN,
            "MetadataDirective": "REPLACE",
            "Metadata": {"a": "1"},
            "TaggingDirective": "COPY",
        },
        set(),
    ),
    (
        "HeadObject",
        {"Bucket": "b", "Key": "k", "IfMatch": "*", "PartNumber": 1, "ChecksumMode": "ENABLED"},
        set(),
    ),
    (
        "GetObjectAttributes",
        {
            "Bucket": "b",
            "Key": "k",
            "ObjectAttributes": ["ETag", "Checksum", "ObjectParts"],
            "MaxParts": 10,
        },
        set(),
    ),
    (
        "PutObjectAcl",
        {
            "Bucket": "b",
            "Key": "k",
            "AccessControlPolicy": {
                "Grants": [
                    {
                        "Grantee": {"Type": "CanonicalUser", "ID": "abc", "DisplayName": "me"},
                        "Permission": "FULL_CONTROL",
                    },
                    {
                        "Grantee": {
                            "Type": "Group",
                            "URI": "http://acs.amazonaws.com/groups/global/AllUsers",
                        },
                        "Permission": "READ",
                    },
                ],
                "Owner": {"ID": "abc"},
            },
        },
        set(),
    ),
    (
        "PutBucketTagging",
        {"Bucket": "b", "Tagging": {"TagSet": [{"Key": "k", "Value": "v"}]}},
        set(),
    ),
]


@pytest.mark.parametrize(
    ("operation", "params", "dropped"),
    REQUEST_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(REQUEST_CASES)],
)
def test_request_round_trip(operation: str, params: dict[str, Any], dropped: set[str]) -> None:
    expected = {k: v for k, v in params.items() if k not in dropped}
    assert _round_trip(operation, params) == expected


def test_request_details() -> None:
    params = parse_rest_request(
        "PutObject",
        uri_labels={"Bucket": "b", "Key+": "a/b"},
        query=[("x-id", "PutObject")],
        headers=[
            ("X-Amz-Meta-Color", "red"),
            ("x-amz-meta-color", "blue"),
            ("content-length", " 12 "),
            ("Expires", "2024-05-06T07:08:09Z"),  # leniently read in another format
        ],
        body=b"ignored: streamed",
    )
    assert params == {
        "Bucket": "b",
        "Key": "a/b",
        "ContentLength": 12,
        "Metadata": {"color": "red,blue"},
        "Expires": WHEN,
    }
    # a body-less structure payload is absent, not empty
    assert parse_rest_request(
        "CreateBucket", uri_labels={"Bucket": "b"}, query=[], headers=[], body=b""
    ) == {"Bucket": "b"}


def test_split_header_list() -> None:
    assert split_header_list('a, "b,c" ,d') == ["a", "b,c", "d"]
    assert split_header_list('"x\\"y"') == ['x"y']
    assert split_header_list("") == [""]
    with pytest.raises(ValueError, match="unterminated"):
        split_header_list('"open')


@pytest.mark.parametrize(
    ("operation", "headers", "query", "name"),
    [
        ("PutObject", [("Content-Length", "12x")], [], "Content-Length"),
        ("PutObject", [("x-amz-bucket-object-lock-enabled", "x")], [], None),
        (
            "PutObject",
            [("x-amz-server-side-encryption-bucket-key-enabled", "yes")],
            [],
            "x-amz-server-side-encryption-bucket-key-enabled",
        ),
        ("GetObject", [("If-Modified-Since", "yesterday")], [], "If-Modified-Since"),
        ("UploadPart", [], [("partNumber", "one")], "partNumber"),
        ("ListObjectsV2", [], [("max-keys", "99999999999")], "max-keys"),
    ],
)
def test_bad_typed_values(
    operation: str, headers: list[tuple[str, str]], query: list[tuple[str, str]], name: str | None
) -> None:
    labels = {"Bucket": "b", "Key": "k"}
    if name is None:  # not a member of this operation: ignored
        parse_rest_request(operation, uri_labels=labels, query=query, headers=headers, body=None)
        return
    with pytest.raises(RestXmlError) as info:
        parse_rest_request(operation, uri_labels=labels, query=query, headers=headers, body=None)
    assert (info.value.code, info.value.status) == ("InvalidArgument", 400)
    assert info.value.extra["ArgumentName"] == name


@pytest.mark.parametrize(
    "body",
    [
        b"<Delete><Object><Key>k</Key></Object>",
        b"not xml",
        b"<Other><Object><Key>k</Key></Object></Other>",
        b"<Delete><Quiet>maybe</Quiet></Delete>",
        b"<Delete><Object><Key><b>nested</b></Key></Object></Delete>",
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "x">]><Delete>&e;</Delete>',
        b'<!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Delete>&b;</Delete>',
        b'<!DOCTYPE d SYSTEM "file:///etc/passwd"><Delete/>',
        b"<Delete>" * 200 + b"</Delete>" * 200,
        b"<Delete><Quiet>true</Quiet><Quiet>false</Quiet></Delete>",
        b"<x:Delete><Quiet>true</Quiet></x:Delete>",
    ],
)
def test_malformed_xml(body: bytes) -> None:
    with pytest.raises(RestXmlError) as info:
        parse_rest_request(
            "DeleteObjects",
            uri_labels={"Bucket": "b"},
            query=[("delete", "")],
            headers=[],
            body=body,
        )
    assert (info.value.code, info.value.message, info.value.status) == (
        "MalformedXML",
        MALFORMED_XML_MESSAGE,
        400,
    )


def test_namespace_is_ignored() -> None:
    body = (
        b'<Delete xmlns="http://example.com/other"><Object><Key>k</Key></Object>'
        b"<Quiet>TRUE</Quiet></Delete>"
    )
    params = parse_rest_request(
        "DeleteObjects", uri_labels={"Bucket": "b"}, query=[], headers=[], body=body
    )
    assert params["Delete"] == {"Objects": [{"Key": "k"}], "Quiet": True}


_HEADER_TEXT = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=40)


@settings(max_examples=200)
@given(
    st.binary(max_size=300) | st.text(max_size=200).map(lambda t: f"<Delete>{t}</Delete>".encode()),
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "Content-Length",
                    "If-Modified-Since",
                    "x-amz-bypass-governance-retention",
                    "x-amz-mfa",
                    "x-amz-meta-x",
                    "x-amz-sdk-checksum-algorithm",
                    "Expires",
                    "x-amz-object-attributes",
                ]
            ),
            _HEADER_TEXT,
        ),
        max_size=5,
    ),
    st.lists(st.tuples(st.sampled_from(["max-keys", "partNumber", "x"]), _HEADER_TEXT), max_size=3),
)
def test_garbage_only_raises_rest_xml_error(
    body: bytes, headers: list[tuple[str, str]], query: list[tuple[str, str]]
) -> None:
    for operation in (
        "DeleteObjects",
        "PutObject",
        "GetObjectAttributes",
        "ListObjectsV2",
        "UploadPart",
        "CompleteMultipartUpload",
        "CreateBucket",
    ):
        try:
            parse_rest_request(
                operation,
                uri_labels={"Bucket": "b", "Key": "k"},
                query=query,
                headers=headers,
                body=body,
            )
        except RestXmlError as error:
            assert error.code in ("MalformedXML", "InvalidArgument")


# ---------------------------------------------------------------------------- responses


def _botocore_parse(
    operation: str, status: int, headers: list[tuple[str, str]], body: bytes | None
) -> dict[str, Any]:
    response = {
        "status_code": status,
        "headers": HTTPHeaderDict(headers),
        "body": b"" if body is None else body,
    }
    parsed = RestXMLParser().parse(response, operation_model(operation).output_shape)
    parsed.pop("ResponseMetadata", None)
    return dict(parsed)


OWNER = {"DisplayName": "me", "ID": "abc123"}
RESPONSE_CASES: list[tuple[str, dict[str, Any]]] = [
    (
        "ListObjectsV2",
        {
            "IsTruncated": True,
            "Contents": [
                {
                    "Key": "photos/a&b.jpg",
                    "LastModified": WHEN_MS,
                    "ETag": '"etag1"',
                    "ChecksumAlgorithm": ["CRC32"],
                    "ChecksumType": "FULL_OBJECT",
                    "Size": 10_000_000_000,
                    "StorageClass": "STANDARD",
                    "Owner": OWNER,
                },
                {"Key": "photos/<b>", "LastModified": WHEN, "Size": 0},
            ],
            "Name": "bucket",
            "Prefix": "photos/",
            "Delimiter": "/",
            "MaxKeys": 1000,
            "CommonPrefixes": [{"Prefix": "photos/2023/"}, {"Prefix": "photos/2024/"}],
            "EncodingType": "url",
            "KeyCount": 4,
            "ContinuationToken": "c",
            "NextContinuationToken": "n",
            "StartAfter": "",
            "RequestCharged": "requester",
        },
    ),
    ("ListObjectsV2", {"IsTruncated": False, "Name": "empty", "KeyCount": 0, "MaxKeys": 1000}),
    (
        "ListBuckets",
        {
            "Buckets": [
                {"Name": "a", "CreationDate": WHEN_MS, "BucketRegion": "us-east-1"},
                {"Name": "b", "CreationDate": WHEN},
            ],
            "Owner": OWNER,
            "ContinuationToken": "t",
            "Prefix": "p",
        },
    ),
    ("ListBuckets", {"Buckets": [], "Owner": OWNER}),
    (
        "GetObject",
        {
            "DeleteMarker": False,
            "AcceptRanges": "bytes",
            "Expiration": 'expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="r"',
            "LastModified": WHEN,
            "ContentLength": 5_000_000_000,
            "ETag": '"abc"',
            "ChecksumCRC32": "NhCmhg==",
            "ChecksumType": "FULL_OBJECT",
            "MissingMeta": 2,
            "VersionId": "v",
            "CacheControl": "no-cache",
            "ContentDisposition": 'attachment; filename="x"',
            "ContentRange": "bytes 0-9/100",
            "ContentType": "text/plain",
            "Metadata": {"color": "red", "a-b": "c"},
            "StorageClass": "GLACIER",
            "PartsCount": 3,
            "TagCount": 2,
            "ObjectLockMode": "GOVERNANCE",
            "ObjectLockRetainUntilDate": WHEN_MS,
            "ObjectLockLegalHoldStatus": "ON",
        },
    ),
    (
        "HeadObject",
        {"ContentLength": 0, "LastModified": WHEN, "ArchiveStatus": "ARCHIVE_ACCESS"},
    ),
    (
        "CompleteMultipartUpload",
        {
            "Location": "https://b.s3.amazonaws.com/k",
            "Bucket": "b",
            "Key": "k",
            "ETag": '"e-2"',
            "ChecksumCRC32": "AAAAAA==-2",
            "ChecksumType": "COMPOSITE",
            "Expiration": "x",
            "VersionId": "v",
            "ServerSideEncryption": "AES256",
            "BucketKeyEnabled": True,
        },
    ),
    (
        "DeleteObjects",
        {
            "Deleted": [
                {"Key": "a", "VersionId": "v", "DeleteMarker": True, "DeleteMarkerVersionId": "d"},
                {"Key": "b"},
            ],
            "Errors": [{"Key": "c", "Code": "AccessDenied", "Message": "Access Denied"}],
            "RequestCharged": "requester",
        },
    ),
    ("DeleteObjects", {"Deleted": [{"Key": "only"}]}),
    (
        "ListParts",
        {
            "AbortDate": WHEN,
            "AbortRuleId": "r",
            "Bucket": "b",
            "Key": "k",
            "UploadId": "u",
            "PartNumberMarker": 0,
            "NextPartNumberMarker": 2,
            "MaxParts": 1000,
            "IsTruncated": False,
            "Parts": [
                {"PartNumber": 1, "LastModified": WHEN_MS, "ETag": '"1"', "Size": 5242880},
                {
                    "PartNumber": 2,
                    "LastModified": WHEN,
                    "ETag": '"2"',
                    "Size": 1,
                    "ChecksumCRC32": "AAAAAA==",
                },
            ],
            "Initiator": {"ID": "i", "DisplayName": "d"},
            "Owner": OWNER,
            "StorageClass": "STANDARD",
            "ChecksumAlgorithm": "CRC32",
            "ChecksumType": "COMPOSITE",
        },
    ),
    (
        "ListMultipartUploads",
        {
            "Bucket": "b",
            "KeyMarker": "",
            "UploadIdMarker": "",
            "NextKeyMarker": "k",
            "Prefix": "p",
            "Delimiter": "/",
            "NextUploadIdMarker": "u",
            "MaxUploads": 1000,
            "IsTruncated": True,
            "Uploads": [
                {
                    "UploadId": "u",
                    "Key": "p/k",
                    "Initiated": WHEN_MS,
                    "StorageClass": "STANDARD",
                    "Owner": OWNER,
                    "Initiator": {"ID": "i"},
                    "ChecksumAlgorithm": "SHA256",
                    "ChecksumType": "COMPOSITE",
                }
            ],
            "CommonPrefixes": [{"Prefix": "p/q/"}],
            "EncodingType": "url",
        },
    ),
    (
        "CreateMultipartUpload",
        {
            "Bucket": "b",
            "Key": "k",
            "UploadId": "u-1",
            "AbortDate": WHEN,
            "AbortRuleId": "rule",
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": "key",
            "ChecksumAlgorithm": "CRC32",
            "ChecksumType": "FULL_OBJECT",
        },
    ),
    (
        "CopyObject",
        {
            "CopyObjectResult": {
                "ETag": '"e"',
                "LastModified": WHEN_MS,
                "ChecksumCRC32": "AAAAAA==",
                "ChecksumType": "FULL_OBJECT",
            },
            "CopySourceVersionId": "sv",
            "VersionId": "v",
            "Expiration": "e",
        },
    ),
    ("PutObject", {"ETag": '"e"', "ChecksumCRC32": "NhCmhg==", "Size": 5, "VersionId": "v"}),
    (
        "GetObjectAcl",
        {
            "Owner": OWNER,
            "Grants": [
                {
                    "Grantee": {"Type": "CanonicalUser", "ID": "abc", "DisplayName": "me"},
                    "Permission": "FULL_CONTROL",
                },
                {
                    "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/x"},
                    "Permission": "READ",
                },
            ],
        },
    ),
    ("GetBucketPolicy", {"Policy": '{"Version":"2012-10-17","Statement":[]}'}),
    ("GetBucketTagging", {"TagSet": [{"Key": "k", "Value": "v"}]}),
    ("GetBucketVersioning", {"Status": "Enabled", "MFADelete": "Disabled"}),
    (
        "GetObjectAttributes",
        {
            "ETag": "e",
            "ObjectSize": 3,
            "LastModified": WHEN,
            "ObjectParts": {"TotalPartsCount": 1, "Parts": [{"PartNumber": 1, "Size": 3}]},
        },
    ),
]


@pytest.mark.parametrize(
    ("operation", "result"),
    RESPONSE_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(RESPONSE_CASES)],
)
def test_response_round_trip(operation: str, result: dict[str, Any]) -> None:
    status, headers, body = serialize_rest_response(operation, result)
    assert status == 200
    parsed = _botocore_parse(operation, status, headers, body)
    if body and operation != "GetBucketPolicy":
        assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<')
        assert f'xmlns="{S3_NAMESPACE}"'.encode() in body.split(b">", 2)[1] + b">"
    # botocore's additions: the (empty, streamed) Body and an always-present prefix map
    if parsed.get("Body") == "" and "Body" not in result:
        del parsed["Body"]
    if parsed.get("Metadata") == {} and "Metadata" not in result:
        del parsed["Metadata"]
    assert parsed == result


def test_response_root_names_and_formats() -> None:
    _, _, body = serialize_rest_response(
        "ListObjectsV2", {"Name": "b", "Contents": [{"Key": "k", "LastModified": WHEN}]}
    )
    assert body is not None
    assert body.split(b"\n", 1)[1].startswith(b"<ListBucketResult xmlns=")
    assert b"<LastModified>2024-05-06T07:08:09.000Z</LastModified>" in body
    assert b"<Contents><Key>k</Key>" in body  # flattened
    _, _, body = serialize_rest_response("CopyObject", {"CopyObjectResult": {"ETag": "e"}})
    assert body is not None and b"<CopyObjectResult xmlns=" in body
    _, _, body = serialize_rest_response("CreateMultipartUpload", {"UploadId": "u"})
    assert body is not None and b"<InitiateMultipartUploadResult xmlns=" in body
    _, headers, body = serialize_rest_response(
        "GetObject",
        {"LastModified": WHEN, "Metadata": {"k": "v"}, "DeleteMarker": True, "Body": object()},
    )
    assert body is None  # streamed by the caller
    assert headers == [
        ("x-amz-delete-marker", "true"),
        ("Last-Modified", "Mon, 06 May 2024 07:08:09 GMT"),
        ("x-amz-meta-k", "v"),
    ]
    assert serialize_rest_response("DeleteObject", {}) == (204, [], b"")
    assert serialize_rest_response("PutObject", None) == (200, [], b"")
    assert serialize_rest_response("CreateBucket", {"Location": "/b"}) == (
        200,
        [("Location", "/b")],
        b"",
    )


def test_response_programming_errors() -> None:
    with pytest.raises(ValueError, match="no member"):
        serialize_rest_response("ListBuckets", {"Nope": 1})
    with pytest.raises(TypeError):
        serialize_rest_response("ListObjectsV2", {"MaxKeys": "1000"})
    with pytest.raises(ValueError, match="cannot carry"):
        serialize_rest_response("GetObject", {"Metadata": {"k": "v\r\nSet-Cookie: x"}})


@pytest.mark.parametrize("region", ["eu-west-1", None])
def test_get_bucket_location_quirk(region: str | None) -> None:
    status, headers, body = serialize_rest_response(
        "GetBucketLocation", {"LocationConstraint": region}
    )
    assert body is not None
    assert body.endswith(
        f'<LocationConstraint xmlns="{S3_NAMESPACE}">{region or ""}</LocationConstraint>'.encode()
    )

    class Raw:
        raw = object()
        content = body

    parsed = _botocore_parse("GetBucketLocation", status, headers, body)
    parse_get_bucket_location(parsed, Raw())
    assert parsed == {"LocationConstraint": region}


def test_error_bodies() -> None:
    body = serialize_s3_error(
        "NoSuchKey",
        "The specified key does not exist.",
        resource="/b/a&b",
        request_id="req-1",
        extra={"Key": "a&b", "BucketName": "b"},
    )
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>')
    response = {
        "status_code": 404,
        "headers": HTTPHeaderDict({"x-amz-request-id": "req-1", "x-amz-id-2": "h"}),
        "body": body,
    }
    parsed = RestXMLParser().parse(response, operation_model("GetObject").output_shape)
    assert parsed["Error"] == {
        "Code": "NoSuchKey",
        "Message": "The specified key does not exist.",
        "Key": "a&b",
        "BucketName": "b",
        "Resource": "/b/a&b",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
    status, xml = error_document(
        RestXmlError("MalformedXML", MALFORMED_XML_MESSAGE), request_id="r"
    )
    assert status == 400 and b"<Code>MalformedXML</Code>" in xml
    with pytest.raises(ValueError, match="element name"):
        serialize_s3_error("X", "m", extra={"bad name": 1})
