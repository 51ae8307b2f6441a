"""Streaming checksums by S3 algorithm name, with the base64 digests of ``x-amz-checksum-*``.

``CRC32`` (the one botocore sends by default, ``DEFAULT_CHECKSUM_ALGORITHM``; ISA-L's
carry-less-multiply CRC from ``isal``, ~4x zlib's speed, else stdlib ``zlib``), ``SHA1``,
``SHA256``, ``SHA512``, ``MD5`` (``hashlib``), ``CRC32C`` and ``CRC64NVME`` (``awscrt``
with the ``rolegate[crt]`` extra: 64 MB in ~10 ms with the GIL released; else a table-driven
pure Python CRC, correct but ~7 MB/s; botocore itself only sends those two when ``awscrt``
is installed).

Usage::

    checksum = new_checksum("crc32")        # any case; UnsupportedChecksumAlgorithm if unknown
    checksum.update(b"hello ")
    checksum.update(b"world")
    checksum.b64digest()                     # 'DUoRhQ==' as in x-amz-checksum-crc32
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from typing import Any, Final, Protocol

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "Checksum",
    "UnsupportedChecksumAlgorithm",
    "algorithm_for_header",
    "b64_checksum",
    "composite_checksum",
    "header_for_algorithm",
    "new_checksum",
]

DEFAULT_ALGORITHM: Final = "CRC32"
_HEADER_PREFIX: Final = "x-amz-checksum-"

try:  # pragma: no cover - depends on the environment
    from awscrt import checksums as _crt  # type: ignore[import-not-found, import-untyped, unused-ignore]
except ImportError:  # pragma: no cover
    _crt = None

try:  # pragma: no cover - depends on the environment
    from isal.isal_zlib import crc32 as _crc32  # 64 MB: ~7 ms, zlib ~25 ms (GIL released)
except ImportError:  # pragma: no cover
    from zlib import crc32 as _crc32


class UnsupportedChecksumAlgorithm(ValueError):
    """The algorithm is not one this module computes."""


class Checksum(Protocol):
    """A running checksum: feed bytes with ``update``; ``digest`` is the raw big-endian value."""

    algorithm: str

    def update(self, data: bytes | bytearray | memoryview) -> None: ...

    def digest(self) -> bytes: ...

    def b64digest(self) -> str: ...


class _Base:
    algorithm = ""

    def b64digest(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")

    def digest(self) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError


class _Hashlib(_Base):
    def __init__(self, algorithm: str, name: str) -> None:
        self.algorithm = algorithm
        self._hash = hashlib.new(name)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.digest()


class _Crc32(_Base):
    algorithm = "CRC32"

    def __init__(self) -> None:
        self._crc = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._crc = _crc32(data, self._crc)

    def digest(self) -> bytes:
        return (self._crc & 0xFFFFFFFF).to_bytes(4, "big")


def _reflected_table(polynomial: int) -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ polynomial if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC32C_TABLE: Final = _reflected_table(0x82F63B78)
_CRC64NVME_TABLE: Final = _reflected_table(0x9A6C9329AC4BC9B5)
_MASK32: Final = 0xFFFFFFFF
_MASK64: Final = 0xFFFFFFFFFFFFFFFF


def _crc_reflected(table: tuple[int, ...], mask: int, crc: int, data: bytes) -> int:
    """Update a reflected CRC (initial value and final xor ``mask``) with ``data``."""
    crc ^= mask
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ mask


class _TableCrc(_Base):
    def __init__(
        self,
        algorithm: str,
        width: int,
        table: tuple[int, ...],
        crt_update: Callable[[Any, int], int] | None,
    ) -> None:
        self.algorithm = algorithm
        self._width = width
        self._mask = (1 << (8 * width)) - 1
        self._table = table
        self._crt_update = crt_update
        self._crc = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self._crt_update is not None:
            self._crc = self._crt_update(data, self._crc) & self._mask
        else:
            self._crc = _crc_reflected(self._table, self._mask, self._crc, bytes(data))

    def digest(self) -> bytes:
        return self._crc.to_bytes(self._width, "big")


def _crt_function(name: str) -> Callable[[Any, int], int] | None:
    if _crt is None:
        return None  # pragma: no cover - depends on the environment
    function: Callable[[Any, int], int] | None = getattr(_crt, name, None)
    return function


_FACTORIES: Final[dict[str, Callable[[], Checksum]]] = {
    "CRC32": _Crc32,
    "CRC32C": lambda: _TableCrc("CRC32C", 4, _CRC32C_TABLE, _crt_function("crc32c")),
    "CRC64NVME": lambda: _TableCrc("CRC64NVME", 8, _CRC64NVME_TABLE, _crt_function("crc64nvme")),
    "SHA1": lambda: _Hashlib("SHA1", "sha1"),
    "SHA256": lambda: _Hashlib("SHA256", "sha256"),
    "SHA512": lambda: _Hashlib("SHA512", "sha512"),
    "MD5": lambda: _Hashlib("MD5", "md5"),
}

#: The algorithm names this module computes (S3 spelling).
ALGORITHMS: Final = frozenset(_FACTORIES)


def _normalize(algorithm: str) -> str:
    name = algorithm.strip().upper()
    if name not in _FACTORIES:
        raise UnsupportedChecksumAlgorithm(f"unsupported checksum algorithm: {algorithm!r}")
    return name


def new_checksum(algorithm: str) -> Checksum:
    """A fresh running checksum for ``algorithm`` (``CRC32``, ``crc64nvme``, ...)."""
    return _FACTORIES[_normalize(algorithm)]()


def b64_checksum(algorithm: str, data: bytes | Iterable[bytes]) -> str:
    """The base64 digest of ``data`` (bytes, or an iterable of byte chunks)."""
    checksum = new_checksum(algorithm)
    for chunk in [data] if isinstance(data, (bytes, bytearray, memoryview)) else data:
        checksum.update(chunk)
    return checksum.b64digest()


def header_for_algorithm(algorithm: str) -> str:
    """``CRC32`` -> ``x-amz-checksum-crc32``."""
    return _HEADER_PREFIX + _normalize(algorithm).lower()


def algorithm_for_header(header_name: str) -> str | None:
    """``x-amz-checksum-crc32`` (any case) -> ``CRC32``; ``None`` for other names."""
    name = header_name.strip().lower()
    if not name.startswith(_HEADER_PREFIX):
        return None
    algorithm = name[len(_HEADER_PREFIX) :].upper()
    return algorithm if algorithm in _FACTORIES and algorithm != "MD5" else None


def composite_checksum(algorithm: str, part_digests_b64: Iterable[str]) -> str:
    """S3's ``COMPOSITE`` multipart checksum: checksum of the parts' digests, ``-<count>``."""
    checksum = new_checksum(algorithm)
    count = 0
    for digest in part_digests_b64:
        checksum.update(base64.b64decode(digest, validate=True))
        count += 1
    return f"{checksum.b64digest()}-{count}"
