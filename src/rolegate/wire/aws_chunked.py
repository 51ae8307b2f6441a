"""Incremental decoder of ``Content-Encoding: aws-chunked`` request bodies (S3 streaming).

Feed the body as it arrives; get the decoded payload back, never the whole body buffered::

    decoder = AwsChunkedDecoder.from_headers(headers, signing=ChunkSigning(...) or None)
    for piece in body_pieces:
        sink.write(decoder.feed(piece))      # AwsChunkedError on any problem
    decoder.finish()                         # IncompleteBody if the body stopped early
    decoder.trailers                         # {"x-amz-checksum-crc32": "..."}

The ``x-amz-content-sha256`` value selects the framing:

* ``STREAMING-UNSIGNED-PAYLOAD-TRAILER`` (botocore's default for PutObject/UploadPart):
  ``hex-size\\r\\n data \\r\\n`` ... ``0\\r\\n`` then trailer lines ``name:value\\r\\n`` and
  ``\\r\\n``.
* ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``: ``hex-size;chunk-signature=sig\\r\\n data \\r\\n``,
  each signature chained from the seed signature (the request's), ending with a signed empty
  chunk. Data of a chunk is only released once its signature verified (memory is bounded by
  ``max_chunk_size``).
* ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER``: the same, then trailer lines and an
  ``x-amz-trailer-signature`` chained from the final chunk's signature.

On completion the declared ``x-amz-decoded-content-length`` and every ``x-amz-checksum-*``
trailer (or an expected checksum from a header) are checked against the decoded bytes.
Errors are :class:`AwsChunkedError` with S3's codes: ``IncompleteBody``,
``InvalidChunkSizeError``, ``BadDigest``, ``SignatureDoesNotMatch`` (403),
``MalformedTrailerError``, ``InvalidRequest``, ``NotImplemented`` (501, ECDSA streaming).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from rolegate.wire.checksums import (
    Checksum,
    UnsupportedChecksumAlgorithm,
    algorithm_for_header,
    new_checksum,
)

__all__ = [
    "SIGNED_MIN_CHUNK_SIZE",
    "STREAMING_SIGNED",
    "STREAMING_SIGNED_TRAILER",
    "STREAMING_UNSIGNED_TRAILER",
    "AwsChunkedDecoder",
    "AwsChunkedError",
    "ChunkSigning",
    "chunk_signature",
    "encode_signed_chunks",
    "trailer_signature",
]

STREAMING_UNSIGNED_TRAILER: Final = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_SIGNED: Final = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER: Final = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
_ECDSA_PREFIX: Final = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
_EMPTY_SHA256: Final = hashlib.sha256(b"").hexdigest()
_MAX_LINE: Final = 4096
_MAX_TRAILER_BYTES: Final = 16384
_SIZE_RE: Final = re.compile(rb"[0-9a-fA-F]{1,16}")
_SIGNATURE_RE: Final = re.compile(r"[0-9a-f]{64}")
#: S3's smallest chunk but the last, for signed streaming uploads.
SIGNED_MIN_CHUNK_SIZE: Final = 8192


class AwsChunkedError(Exception):
    """An error to return to the client as an S3 ``<Error>`` document."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def _incomplete() -> AwsChunkedError:
    return AwsChunkedError(
        "IncompleteBody",
        "The request body terminated unexpectedly",
    )


def _bad_chunk(detail: str) -> AwsChunkedError:
    return AwsChunkedError("InvalidChunkSizeError", f"Invalid chunk: {detail}")


def _signature_mismatch() -> AwsChunkedError:
    return AwsChunkedError(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
        403,
    )


def _malformed_trailer() -> AwsChunkedError:
    return AwsChunkedError(
        "MalformedTrailerError",
        "The request contained trailing data that was not well-formed or did not conform to "
        "our published schema.",
    )


# --------------------------------------------------------------------------- signing


@dataclass(frozen=True, slots=True)
class ChunkSigning:
    """What verifying chunk signatures needs, from the verified request's SigV4 data.

    ``scope`` is ``date/region/service/aws4_request`` (``str(CredentialScope)``),
    ``seed_signature`` the request's own signature.
    """

    signing_key: bytes
    amz_date: str
    scope: str
    seed_signature: str


def chunk_signature(signing: ChunkSigning, previous_signature: str, chunk_sha256_hex: str) -> str:
    """The signature of one chunk (``AWS4-HMAC-SHA256-PAYLOAD``) chained from the previous."""
    string_to_sign = "\n".join(
        (
            "AWS4-HMAC-SHA256-PAYLOAD",
            signing.amz_date,
            signing.scope,
            previous_signature,
            _EMPTY_SHA256,
            chunk_sha256_hex,
        )
    )
    return hmac.new(signing.signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def trailer_signature(
    signing: ChunkSigning, previous_signature: str, trailers: Sequence[tuple[str, str]]
) -> str:
    """The ``x-amz-trailer-signature`` (``AWS4-HMAC-SHA256-TRAILER``) of trailer headers."""
    canonical = "".join(f"{name.strip().lower()}:{value.strip()}\n" for name, value in trailers)
    string_to_sign = "\n".join(
        (
            "AWS4-HMAC-SHA256-TRAILER",
            signing.amz_date,
            signing.scope,
            previous_signature,
            hashlib.sha256(canonical.encode()).hexdigest(),
        )
    )
    return hmac.new(signing.signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def encode_signed_chunks(
    signing: ChunkSigning,
    chunks: Sequence[bytes],
    trailers: Sequence[tuple[str, str]] | None = None,
) -> bytes:
    """Frame ``chunks`` as a signed aws-chunked body (a client's job; for tests and tools).

    An empty final chunk is appended; with ``trailers`` (even empty) the ``-TRAILER``
    framing is used.
    """
    out = bytearray()
    previous = signing.seed_signature
    for data in [*(c for c in chunks if c), b""]:
        previous = chunk_signature(signing, previous, hashlib.sha256(data).hexdigest())
        out += b"%x;chunk-signature=%s\r\n" % (len(data), previous.encode())
        if data or trailers is None:
            out += data + b"\r\n"
    if trailers is not None:
        for name, value in trailers:
            out += f"{name}:{value}\r\n".encode()
        signature = trailer_signature(signing, previous, trailers)
        out += f"x-amz-trailer-signature:{signature}\r\n\r\n".encode()
    return bytes(out)


# --------------------------------------------------------------------------- decoder

_SIZE_LINE, _DATA, _DATA_END, _TRAILER, _FINAL_CRLF, _DONE = range(6)


class AwsChunkedDecoder:
    """Decode one aws-chunked body incrementally (see module docstring)."""

    def __init__(
        self,
        content_sha256: str,
        *,
        decoded_content_length: int | None = None,
        declared_trailers: Sequence[str] = (),
        signing: ChunkSigning | None = None,
        expected_checksums: Mapping[str, str] | None = None,
        max_chunk_size: int = 16 * 1024 * 1024,
        min_chunk_size: int | None = None,
    ) -> None:
        mode = content_sha256.strip()
        if mode.startswith(_ECDSA_PREFIX):
            raise AwsChunkedError(
                "NotImplemented", "SigV4a streaming (ECDSA) is not implemented", 501
            )
        if mode not in (STREAMING_UNSIGNED_TRAILER, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER):
            raise AwsChunkedError(
                "InvalidArgument", f"x-amz-content-sha256 {mode!r} is not an aws-chunked mode"
            )
        self.signed = mode != STREAMING_UNSIGNED_TRAILER
        self.has_trailer = mode != STREAMING_SIGNED
        if self.signed and signing is None:
            raise ValueError(f"{mode} needs the request's ChunkSigning")
        self._signing = signing
        self._previous_signature = signing.seed_signature if signing else ""
        self._decoded_length = decoded_content_length
        self._max_chunk = max_chunk_size
        self._min_chunk = (
            min_chunk_size
            if min_chunk_size is not None
            else (SIGNED_MIN_CHUNK_SIZE if self.signed else 0)
        )
        self._declared = [name.strip().lower() for name in declared_trailers if name.strip()]
        for name in self._declared:
            if algorithm_for_header(name) is None and name.startswith("x-amz-checksum-"):
                raise AwsChunkedError("InvalidRequest", f"Unsupported trailer {name}")
        # running checksums: from the trailers declared and from headers already received
        self._checksums: dict[str, Checksum] = {}
        for name in self._declared:
            algorithm = algorithm_for_header(name)
            if algorithm is not None:
                self._checksums[algorithm] = new_checksum(algorithm)
        self._expected: dict[str, str] = {}
        for algorithm, value in (expected_checksums or {}).items():
            try:
                checksum = new_checksum(algorithm)
            except UnsupportedChecksumAlgorithm as exc:
                raise AwsChunkedError("InvalidRequest", str(exc)) from exc
            self._checksums.setdefault(checksum.algorithm, checksum)
            self._expected[checksum.algorithm] = value.strip()
        self.trailers: dict[str, str] = {}
        self._trailer_lines: list[tuple[str, str]] = []
        self._trailer_bytes = 0
        self._buffer = bytearray()
        self._state = _SIZE_LINE
        self._remaining = 0
        self._chunk_signature = ""
        self._chunk_hash: hashlib._Hash | None = None
        self._held = bytearray()  # signed: the chunk's data until its signature verified
        self._last_chunk_size: int | None = None
        self.decoded_length = 0

    @classmethod
    def from_headers(
        cls,
        headers: Sequence[tuple[str, str]],
        *,
        signing: ChunkSigning | None = None,
        verify_header_checksums: bool = True,
        max_chunk_size: int = 16 * 1024 * 1024,
    ) -> AwsChunkedDecoder:
        """A decoder from the request headers (``x-amz-content-sha256``,
        ``x-amz-decoded-content-length``, ``x-amz-trailer`` and ``x-amz-checksum-*``)."""
        values: dict[str, str] = {}
        for name, value in headers:
            key = name.strip().lower()
            values[key] = f"{values[key]},{value}" if key in values else value
        raw_length = values.get("x-amz-decoded-content-length")
        length: int | None = None
        if raw_length is not None:
            if not raw_length.strip().isdigit():
                raise AwsChunkedError(
                    "InvalidArgument", f"Invalid x-amz-decoded-content-length: {raw_length}"
                )
            length = int(raw_length.strip())
        expected: dict[str, str] = {}
        if verify_header_checksums:
            for key, value in values.items():
                algorithm = algorithm_for_header(key)
                if algorithm is not None:
                    expected[algorithm] = value
        declared = [n for n in values.get("x-amz-trailer", "").split(",") if n.strip()]
        return cls(
            values.get("x-amz-content-sha256", ""),
            decoded_content_length=length,
            declared_trailers=declared,
            signing=signing,
            expected_checksums=expected,
            max_chunk_size=max_chunk_size,
        )

    @property
    def done(self) -> bool:
        """True once the final chunk (and trailer) was read and verified."""
        return self._state == _DONE

    # ---- feeding
    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        """Consume the next piece of the body; return the payload bytes it completes."""
        if self._state == _DONE:
            if data:
                raise AwsChunkedError("InvalidRequest", "Data after the final aws-chunked chunk")
            return b""
        self._buffer += data
        out = bytearray()
        progressed = True
        while progressed and self._state != _DONE:
            progressed = self._step(out)
        if self._state == _DONE and self._buffer:
            raise AwsChunkedError("InvalidRequest", "Data after the final aws-chunked chunk")
        return bytes(out)

    def finish(self) -> None:
        """The body ended: raise ``IncompleteBody`` unless it was complete."""
        if self._state != _DONE:
            raise _incomplete()

    def _take_line(self, limit: int) -> bytes | None:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > limit:
                raise (
                    _bad_chunk("line too long")
                    if self._state == _SIZE_LINE
                    else (_malformed_trailer())
                )
            return None
        if end > limit:
            raise (
                _bad_chunk("line too long") if self._state == _SIZE_LINE else (_malformed_trailer())
            )
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    def _step(self, out: bytearray) -> bool:
        state = self._state
        if state == _SIZE_LINE:
            line = self._take_line(_MAX_LINE)
            if line is None:
                return False
            self._start_chunk(line)
            return True
        if state == _DATA:
            if not self._buffer:
                return False
            take = min(self._remaining, len(self._buffer))
            piece = bytes(self._buffer[:take])
            del self._buffer[:take]
            self._remaining -= take
            self._consume(piece, out)
            if self._remaining == 0:
                self._state = _DATA_END
            return True
        if state == _DATA_END:
            if len(self._buffer) < 2:
                return False
            if self._buffer[:2] != b"\r\n":
                raise _bad_chunk("chunk data does not end where its size says")
            del self._buffer[:2]
            self._end_chunk(out)
            return True
        if state == _TRAILER:
            line = self._take_line(_MAX_LINE)
            if line is None:
                return False
            self._trailer_line(line)
            return True
        if state == _FINAL_CRLF:
            if len(self._buffer) < 2:
                return False
            if self._buffer[:2] != b"\r\n":
                raise _bad_chunk("the final chunk is not followed by CRLF")
            del self._buffer[:2]
            self._complete()
            return True
        return False  # pragma: no cover

    def _start_chunk(self, line: bytes) -> None:
        size_part, _, extensions = line.partition(b";")
        size_text = size_part.strip()
        if not _SIZE_RE.fullmatch(size_text):
            raise _bad_chunk(f"bad chunk size {size_text[:32]!r}")
        size = int(size_text, 16)
        if size > self._max_chunk:
            raise _bad_chunk(f"chunk of {size} bytes is over the limit of {self._max_chunk}")
        if size and self._last_chunk_size is not None and self._last_chunk_size < self._min_chunk:
            raise AwsChunkedError(
                "InvalidChunkSizeError",
                f"Only the last chunk is allowed to have a size less than {self._min_chunk} bytes",
            )
        if self._decoded_length is not None and self.decoded_length + size > self._decoded_length:
            raise AwsChunkedError(
                "InvalidChunkSizeError",
                "The chunks carry more data than x-amz-decoded-content-length declares",
            )
        self._last_chunk_size = size
        if self.signed:
            signature = ""
            for extension in extensions.split(b";"):
                name, _, value = extension.partition(b"=")
                if name.strip() == b"chunk-signature":
                    signature = value.strip().decode("ascii", "replace")
            if not _SIGNATURE_RE.fullmatch(signature):
                raise AwsChunkedError(
                    "IncompleteSignature", "The chunk has no valid chunk-signature"
                )
            self._chunk_signature = signature
            self._chunk_hash = hashlib.sha256()
        self._remaining = size
        if size:
            self._state = _DATA
        elif self.signed:
            self._verify_chunk()
            self._state = _TRAILER if self.has_trailer else _FINAL_CRLF
        else:
            self._state = _TRAILER

    def _consume(self, piece: bytes, out: bytearray) -> None:
        if self._chunk_hash is not None:
            self._chunk_hash.update(piece)
        for checksum in self._checksums.values():
            checksum.update(piece)
        self.decoded_length += len(piece)
        if self.signed:
            self._held += piece
        else:
            out += piece

    def _end_chunk(self, out: bytearray) -> None:
        if self.signed:
            self._verify_chunk()
            out += self._held
            self._held.clear()
        self._state = _SIZE_LINE

    def _verify_chunk(self) -> None:
        assert self._signing is not None and self._chunk_hash is not None
        expected = chunk_signature(
            self._signing, self._previous_signature, self._chunk_hash.hexdigest()
        )
        if not hmac.compare_digest(expected, self._chunk_signature):
            raise _signature_mismatch()
        self._previous_signature = expected

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._complete()
            return
        self._trailer_bytes += len(line) + 2
        if self._trailer_bytes > _MAX_TRAILER_BYTES:
            raise _malformed_trailer()
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError as exc:
            raise _malformed_trailer() from exc
        name, colon, value = text.partition(":")
        name, value = name.strip().lower(), value.strip()
        if not colon or not name:
            raise _malformed_trailer()
        if name == "x-amz-trailer-signature" and self.signed:
            self._verify_trailer_signature(value)
            return
        if name in self.trailers:
            raise _malformed_trailer()
        self.trailers[name] = value
        self._trailer_lines.append((name, value))

    def _verify_trailer_signature(self, value: str) -> None:
        assert self._signing is not None
        expected = trailer_signature(self._signing, self._previous_signature, self._trailer_lines)
        if not hmac.compare_digest(expected, value):
            raise _signature_mismatch()
        self._previous_signature = "trailer-verified"

    def _complete(self) -> None:
        if self.signed and self.has_trailer and self._previous_signature != "trailer-verified":
            raise AwsChunkedError(
                "IncompleteSignature", "The trailer has no x-amz-trailer-signature"
            )
        missing = [name for name in self._declared if name not in self.trailers]
        if missing:
            raise _malformed_trailer()
        if self._decoded_length is not None and self.decoded_length != self._decoded_length:
            raise _incomplete()
        expected = dict(self._expected)
        for name, value in self.trailers.items():
            algorithm = algorithm_for_header(name)
            if algorithm is None:
                continue
            if algorithm not in self._checksums:
                raise _malformed_trailer()  # a checksum trailer x-amz-trailer did not declare
            expected[algorithm] = value
        for algorithm, value in expected.items():
            actual = self._checksums[algorithm].b64digest()
            if not hmac.compare_digest(actual.encode(), value.encode("ascii", "replace")):
                raise AwsChunkedError(
                    "BadDigest",
                    f"The {algorithm} you specified did not match the calculated checksum.",
                )
        self._state = _DONE

    # ---- results
    def checksum(self, algorithm: str) -> str | None:
        """The base64 checksum computed over the decoded bytes, if it was computed."""
        running = self._checksums.get(algorithm.strip().upper())
        return running.b64digest() if running is not None else None
