"""aws-chunked decoding and checksums: botocore's own encoder, AWS's published vectors."""

from __future__ import annotations

import base64
import io
import zlib

import pytest
from botocore.httpchecksum import (  # type: ignore[import-untyped]
    DEFAULT_CHECKSUM_ALGORITHM,
    AwsChunkedWrapper,
    Crc32Checksum,
    Sha256Checksum,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from rolegate.wire.aws_chunked import (
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    AwsChunkedDecoder,
    AwsChunkedError,
    ChunkSigning,
    chunk_signature,
    encode_signed_chunks,
    trailer_signature,
)
from rolegate.wire.checksums import (
    ALGORITHMS,
    UnsupportedChecksumAlgorithm,
    algorithm_for_header,
    b64_checksum,
    composite_checksum,
    header_for_algorithm,
    new_checksum,
)
from rolegate.wire.sigv4 import derive_signing_key

# ---------------------------------------------------------------------------- checksums


def test_default_botocore_algorithm_is_supported() -> None:
    assert DEFAULT_CHECKSUM_ALGORITHM in ALGORITHMS


@pytest.mark.parametrize(
    ("algorithm", "hex_digest"),
    [
        ("CRC32", "cbf43926"),
        ("crc32c", "e3069283"),
        ("CRC64NVME", "ae8b14860a799888"),
        ("SHA1", "f7c3bc1d808e04732adf679965ccc34ca7ae3441"),
        ("SHA256", "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"),
    ],
)
def test_check_values(algorithm: str, hex_digest: str) -> None:
    checksum = new_checksum(algorithm)
    for piece in (b"1234", b"", b"56789"):
        checksum.update(piece)
    assert checksum.digest().hex() == hex_digest
    assert checksum.b64digest() == base64.b64encode(bytes.fromhex(hex_digest)).decode()


@given(st.binary(max_size=300), st.integers(0, 300))
def test_streaming_matches_botocore(data: bytes, cut: int) -> None:
    for ours, theirs in (("crc32", Crc32Checksum), ("sha256", Sha256Checksum)):
        checksum = new_checksum(ours)
        checksum.update(data[:cut])
        checksum.update(memoryview(data[cut:]))
        reference = theirs()
        reference.update(data)
        assert checksum.b64digest() == reference.b64digest()


def _bitwise_crc(reflected_polynomial: int, width: int, data: bytes) -> int:
    """The CRC one bit at a time (initial value and final xor all ones): obviously right."""
    mask = (1 << width) - 1
    crc = mask
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ reflected_polynomial if crc & 1 else crc >> 1
    return crc ^ mask


@settings(max_examples=100)
@given(st.binary(max_size=1000), st.integers(0, 1000))
@pytest.mark.parametrize(
    ("algorithm", "polynomial", "width"),
    [("CRC32C", 0x82F63B78, 32), ("CRC64NVME", 0x9A6C9329AC4BC9B5, 64)],
)
def test_crcs_match_a_bitwise_reference(
    algorithm: str, polynomial: int, width: int, data: bytes, cut: int
) -> None:
    """The table CRC, or awscrt's with `rolegate[crt]`, against the bit-by-bit definition."""
    checksum = new_checksum(algorithm)
    checksum.update(data[:cut])
    checksum.update(memoryview(data[cut:]))
    assert checksum.digest() == _bitwise_crc(polynomial, width, data).to_bytes(width // 8, "big")


@given(st.binary(max_size=5000), st.integers(0, 5000))
def test_crc32_matches_zlib(data: bytes, cut: int) -> None:
    checksum = new_checksum("CRC32")
    checksum.update(data[:cut])
    checksum.update(bytearray(data[cut:]))
    assert checksum.digest() == zlib.crc32(data).to_bytes(4, "big")


def test_header_names_and_composite() -> None:
    assert header_for_algorithm("crc64nvme") == "x-amz-checksum-crc64nvme"
    assert algorithm_for_header("X-Amz-Checksum-CRC32C") == "CRC32C"
    assert algorithm_for_header("x-amz-checksum-type") is None
    assert algorithm_for_header("content-md5") is None
    with pytest.raises(UnsupportedChecksumAlgorithm):
        new_checksum("adler32")
    parts = [b64_checksum("CRC32", b"a" * 10), b64_checksum("CRC32", [b"b", b"c"])]
    raw = b"".join(base64.b64decode(p) for p in parts)
    expected = base64.b64encode(zlib.crc32(raw).to_bytes(4, "big")).decode()
    assert composite_checksum("CRC32", parts) == f"{expected}-2"


# ---------------------------------------------------------------------------- helpers


def _pieces(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts})
    out, start = [], 0
    for point in [*points, len(body)]:
        out.append(body[start:point])
        start = point
    return out


def _decode(decoder: AwsChunkedDecoder, pieces: list[bytes]) -> bytes:
    out = bytearray()
    for piece in pieces:
        out += decoder.feed(piece)
    decoder.finish()
    return bytes(out)


def _botocore_body(data: bytes, chunk_size: int, checksum: bool = True) -> bytes:
    wrapper = AwsChunkedWrapper(
        io.BytesIO(data),
        checksum_cls=Crc32Checksum if checksum else None,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=chunk_size,
    )
    return bytes(wrapper.read())


def _unsigned_decoder(length: int | None) -> AwsChunkedDecoder:
    return AwsChunkedDecoder.from_headers(
        [
            ("x-amz-content-sha256", STREAMING_UNSIGNED_TRAILER),
            ("Content-Encoding", "aws-chunked"),
            ("X-Amz-Trailer", "x-amz-checksum-crc32"),
            *([("X-Amz-Decoded-Content-Length", str(length))] if length is not None else []),
        ]
    )


# ---------------------------------------------------------------------------- unsigned


@settings(max_examples=150)
@given(
    st.binary(max_size=2000),
    st.integers(1, 700),
    st.lists(st.integers(0, 10_000), max_size=12),
    st.booleans(),
)
def test_unsigned_trailer_from_botocore(
    data: bytes, chunk_size: int, cuts: list[int], declare_length: bool
) -> None:
    body = _botocore_body(data, chunk_size)
    decoder = _unsigned_decoder(len(data) if declare_length else None)
    assert _decode(decoder, _pieces(body, cuts)) == data
    assert decoder.done
    assert decoder.trailers == {"x-amz-checksum-crc32": b64_checksum("crc32", data)}
    assert decoder.checksum("crc32") == decoder.trailers["x-amz-checksum-crc32"]
    assert decoder.decoded_length == len(data)


def test_unsigned_without_trailer_checksum() -> None:
    body = _botocore_body(b"hello world", 4, checksum=False)
    decoder = AwsChunkedDecoder(STREAMING_UNSIGNED_TRAILER, decoded_content_length=11)
    assert _decode(decoder, [body]) == b"hello world"
    assert decoder.trailers == {}


def test_one_byte_at_a_time() -> None:
    data = bytes(range(256)) * 3
    body = _botocore_body(data, 100)
    decoder = _unsigned_decoder(len(data))
    assert _decode(decoder, [body[i : i + 1] for i in range(len(body))]) == data


def test_expected_header_checksum() -> None:
    body = _botocore_body(b"abc", 2, checksum=False)
    good = AwsChunkedDecoder(
        STREAMING_UNSIGNED_TRAILER, expected_checksums={"sha256": b64_checksum("SHA256", b"abc")}
    )
    assert _decode(good, [body]) == b"abc"
    bad = AwsChunkedDecoder(
        STREAMING_UNSIGNED_TRAILER, expected_checksums={"sha256": b64_checksum("SHA256", b"x")}
    )
    with pytest.raises(AwsChunkedError) as info:
        _decode(bad, [body])
    assert info.value.code == "BadDigest"


def _error_code(decoder: AwsChunkedDecoder, body: bytes) -> str:
    with pytest.raises(AwsChunkedError) as info:
        _decode(decoder, [body])
    return info.value.code


def test_wrong_trailer_checksum_is_bad_digest() -> None:
    body = _botocore_body(b"hello world", 4)
    good = b64_checksum("crc32", b"hello world").encode()
    wrong = body.replace(good, b64_checksum("crc32", b"hello worle").encode())
    assert wrong != body
    assert _error_code(_unsigned_decoder(11), wrong) == "BadDigest"


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda b: b.replace(b"4\r\nhell", b"5\r\nhell", 1),  # chunk size one too big
        lambda b: b.replace(b"4\r\nhell", b"3\r\nhell", 1),  # one too small
        lambda b: b.replace(b"4\r\nhell", b"zz\r\nhell", 1),  # not hex
        lambda b: b.replace(b"4\r\nhell", b"-4\r\nhell", 1),
        lambda b: b.replace(b"4\r\nhell", b"4\nhell", 1),  # bare LF
    ],
)
def test_corrupted_chunk_sizes(corrupt: object) -> None:
    body = _botocore_body(b"hello world", 4)
    assert callable(corrupt)
    code = _error_code(_unsigned_decoder(None), corrupt(body))
    assert code in ("InvalidChunkSizeError", "IncompleteBody")


def test_huge_chunk_size_is_refused_without_buffering() -> None:
    decoder = AwsChunkedDecoder(STREAMING_UNSIGNED_TRAILER, max_chunk_size=1024)
    with pytest.raises(AwsChunkedError) as info:
        decoder.feed(b"ffffffff\r\n")
    assert info.value.code == "InvalidChunkSizeError"
    endless = AwsChunkedDecoder(STREAMING_UNSIGNED_TRAILER)
    with pytest.raises(AwsChunkedError):
        endless.feed(b"1" * 10_000)


@given(st.binary(min_size=1, max_size=300), st.data())
def test_truncated_bodies_are_incomplete(data: bytes, draw: st.DataObject) -> None:
    body = _botocore_body(data, 50)
    cut = draw.draw(st.integers(0, len(body) - 1))
    decoder = _unsigned_decoder(len(data))
    with pytest.raises(AwsChunkedError) as info:
        _decode(decoder, [body[:cut]])
    assert info.value.code == "IncompleteBody"


def test_decoded_length_mismatch() -> None:
    body = _botocore_body(b"hello world", 4)
    assert _error_code(_unsigned_decoder(12), body) == "IncompleteBody"
    assert _error_code(_unsigned_decoder(10), body) == "InvalidChunkSizeError"


def test_trailer_problems() -> None:
    body = _botocore_body(b"hello", 4, checksum=False)  # declared trailer never sent
    assert _error_code(_unsigned_decoder(5), body) == "MalformedTrailerError"
    garbage = body[:-2] + b"no colon here\r\n\r\n"
    decoder = AwsChunkedDecoder(STREAMING_UNSIGNED_TRAILER)
    assert _error_code(decoder, garbage) == "MalformedTrailerError"
    undeclared = _botocore_body(b"hello", 4)  # checksum trailer without x-amz-trailer
    assert _error_code(AwsChunkedDecoder(STREAMING_UNSIGNED_TRAILER), undeclared) == (
        "MalformedTrailerError"
    )


def test_data_after_the_end() -> None:
    body = _botocore_body(b"hello", 4)
    assert _error_code(_unsigned_decoder(5), body + b"x") == "InvalidRequest"


def test_modes() -> None:
    with pytest.raises(AwsChunkedError) as info:
        AwsChunkedDecoder("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")
    assert info.value.status == 501
    with pytest.raises(AwsChunkedError):
        AwsChunkedDecoder("UNSIGNED-PAYLOAD")
    with pytest.raises(ValueError, match="ChunkSigning"):
        AwsChunkedDecoder(STREAMING_SIGNED)


# ---------------------------------------------------------------------------- signed (AWS)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNK_1 = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
CHUNK_2 = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
CHUNK_FINAL = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
# aws-crt's chunk signer test: trailers first:1st, second:2nd, third:3rd after CHUNK_FINAL
TRAILER_SIGNATURE = "df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c"
SIGNING = ChunkSigning(
    signing_key=derive_signing_key(SECRET, "20130524", "us-east-1", "s3"),
    amz_date="20130524T000000Z",
    scope="20130524/us-east-1/s3/aws4_request",
    seed_signature=SEED,
)
PAYLOAD = b"a" * 66560


def _aws_example_body() -> bytes:
    return (
        f"10000;chunk-signature={CHUNK_1}\r\n".encode()
        + b"a" * 65536
        + f"\r\n400;chunk-signature={CHUNK_2}\r\n".encode()
        + b"a" * 1024
        + f"\r\n0;chunk-signature={CHUNK_FINAL}\r\n\r\n".encode()
    )


def test_published_chunk_signatures() -> None:
    import hashlib

    first = chunk_signature(SIGNING, SEED, hashlib.sha256(b"a" * 65536).hexdigest())
    second = chunk_signature(SIGNING, first, hashlib.sha256(b"a" * 1024).hexdigest())
    final = chunk_signature(SIGNING, second, hashlib.sha256(b"").hexdigest())
    assert (first, second, final) == (CHUNK_1, CHUNK_2, CHUNK_FINAL)
    trailers = [("first", "1st"), ("second", "2nd"), ("third", "3rd")]
    assert trailer_signature(SIGNING, CHUNK_FINAL, trailers) == TRAILER_SIGNATURE
    assert encode_signed_chunks(SIGNING, [b"a" * 65536, b"a" * 1024]) == _aws_example_body()


@settings(max_examples=30)
@given(st.lists(st.integers(0, 70_000), max_size=10))
def test_published_example_in_random_pieces(cuts: list[int]) -> None:
    decoder = AwsChunkedDecoder.from_headers(
        [
            ("x-amz-content-sha256", STREAMING_SIGNED),
            ("x-amz-decoded-content-length", "66560"),
        ],
        signing=SIGNING,
    )
    assert _decode(decoder, _pieces(_aws_example_body(), cuts)) == PAYLOAD


def test_signed_tampering() -> None:
    body = _aws_example_body()
    tampered = body.replace(b"a" * 1024 + b"\r\n0;", b"a" * 1023 + b"b\r\n0;")
    decoder = AwsChunkedDecoder(STREAMING_SIGNED, signing=SIGNING)
    out = decoder.feed(tampered[:66000])
    assert out == b"a" * 65536  # the first chunk verified
    with pytest.raises(AwsChunkedError) as info:
        decoder.feed(tampered[66000:])
    assert (info.value.code, info.value.status) == ("SignatureDoesNotMatch", 403)
    # chunks out of order / a wrong seed
    other_seed = ChunkSigning(SIGNING.signing_key, SIGNING.amz_date, SIGNING.scope, CHUNK_1)
    assert _error_code(AwsChunkedDecoder(STREAMING_SIGNED, signing=other_seed), body) == (
        "SignatureDoesNotMatch"
    )
    unsigned = body.replace(f";chunk-signature={CHUNK_2}".encode(), b"")
    assert _error_code(AwsChunkedDecoder(STREAMING_SIGNED, signing=SIGNING), unsigned) == (
        "IncompleteSignature"
    )


def test_signed_small_chunk_not_last() -> None:
    body = encode_signed_chunks(SIGNING, [b"x" * 100, b"y" * 100])
    decoder = AwsChunkedDecoder(STREAMING_SIGNED, signing=SIGNING)
    assert _error_code(decoder, body) == "InvalidChunkSizeError"
    lenient = AwsChunkedDecoder(STREAMING_SIGNED, signing=SIGNING, min_chunk_size=0)
    assert _decode(lenient, [body]) == b"x" * 100 + b"y" * 100


@settings(max_examples=40)
@given(
    st.lists(st.binary(min_size=1, max_size=200), max_size=6),
    st.lists(st.integers(0, 5000), max_size=8),
)
def test_signed_trailer_round_trip(chunks: list[bytes], cuts: list[int]) -> None:
    data = b"".join(chunks)
    trailers = [("x-amz-checksum-crc32c", b64_checksum("CRC32C", data))]
    body = encode_signed_chunks(SIGNING, chunks, trailers)
    decoder = AwsChunkedDecoder(
        STREAMING_SIGNED_TRAILER,
        signing=SIGNING,
        decoded_content_length=len(data),
        declared_trailers=["x-amz-checksum-crc32c"],
        min_chunk_size=0,
    )
    assert _decode(decoder, _pieces(body, cuts)) == data
    assert decoder.trailers == dict(trailers)


def test_signed_trailer_errors() -> None:
    data = b"z" * 10
    good = b64_checksum("CRC32", data)
    trailers = [("x-amz-checksum-crc32", good)]

    def decoder() -> AwsChunkedDecoder:
        return AwsChunkedDecoder(
            STREAMING_SIGNED_TRAILER,
            signing=SIGNING,
            declared_trailers=["x-amz-checksum-crc32"],
        )

    body = encode_signed_chunks(SIGNING, [data], trailers)
    forged = body.replace(good.encode(), b64_checksum("CRC32", b"other").encode())
    assert _error_code(decoder(), forged) == "SignatureDoesNotMatch"
    wrong = encode_signed_chunks(SIGNING, [data], [("x-amz-checksum-crc32", "AAAAAA==")])
    assert _error_code(decoder(), wrong) == "BadDigest"
    unsigned_trailer = body.split(b"x-amz-trailer-signature")[0] + b"\r\n"
    assert _error_code(decoder(), unsigned_trailer) == "IncompleteSignature"
