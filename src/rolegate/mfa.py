"""Virtual MFA devices: TOTP (RFC 6238) seeds, codes, verification, and enrolment QR codes.

Everything here is pure: no clock reads (the caller passes the time as Unix seconds) and
no I/O. Randomness is used only by :func:`new_seed`.

AWS behaviour matched here:

* A virtual MFA seed is 40 random bytes; ``Base32StringSeed`` is its RFC 4648 (RFC 3548)
  base32 text, 64 characters with no padding (AWS's documented example,
  ``CZWZMCQNW4DEXAMPLE3VOUGXJFZYSUW7EXAMPLECR4NJFD65GX2SLUDW2EXAMPLE``, is 64 characters).
  On the wire both ``Base32StringSeed`` and ``QRCodePNG`` are blobs, i.e. the serializer
  base64-encodes the ASCII of that text / the PNG bytes; that is not done here.
* Codes are 6 digits, HMAC-SHA-1, 30-second steps starting at the Unix epoch.
* The QR code encodes ``otpauth://totp/<name>@<account>?secret=<base32>``.
* EnableMFADevice / ResyncMFADevice take two consecutive codes.

Replay protection: a verified code returns the time step it matched. The caller stores the
highest step it has accepted for the device and passes it back as ``last_used_step``; steps
at or below it are never accepted again, so each code works once only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import math
import secrets
import struct
from collections.abc import Iterator
from urllib.parse import quote

import segno

__all__ = [
    "CONSECUTIVE_CODES_MAX_DRIFT_STEPS",
    "SEED_LENGTH_BYTES",
    "TOTP_CODE_DIGITS",
    "TOTP_STEP_SECONDS",
    "VERIFY_WINDOW_STEPS",
    "base32_to_seed",
    "hotp",
    "is_well_formed_code",
    "new_seed",
    "otpauth_uri",
    "qr_code_png",
    "seed_to_base32",
    "time_step",
    "totp",
    "verify_code",
    "verify_consecutive_codes",
]

SEED_LENGTH_BYTES = 40
"""Length of a new seed: 40 bytes, which is AWS's 64-character Base32StringSeed."""

TOTP_STEP_SECONDS = 30
"""Seconds per TOTP time step (RFC 6238 default, and AWS's)."""

TOTP_CODE_DIGITS = 6
"""Digits in an AWS MFA code (AuthenticationCode1/2, TokenCode: fixed length 6)."""

VERIFY_WINDOW_STEPS = 1
"""Default clock tolerance for a single code: one step (30 s) either side of now."""

CONSECUTIVE_CODES_MAX_DRIFT_STEPS = 10
"""Default drift window for EnableMFADevice/ResyncMFADevice: the second code's step may be up
to 10 steps (5 minutes) before or after the server's current step. AWS documents that codes
submitted "too long" after generation still enable the device; five minutes either way covers
a slow user and a device clock that is a few minutes off, while keeping the search small
(at most 22 HMACs)."""

_MIN_CODE_DIGITS = 6  # RFC 4226 section 5.3: at least 6 digits
_MAX_CODE_DIGITS = 8  # RFC 6238 reference implementation goes up to 8
_MAX_COUNTER = 2**64 - 1  # the HOTP counter is an unsigned 8-byte integer
_QR_MODULE_SCALE_PIXELS = 5
_QR_QUIET_ZONE_MODULES = 4


def new_seed(length: int = SEED_LENGTH_BYTES) -> bytes:
    """Return a fresh random TOTP seed (``length`` bytes from :mod:`secrets`).

    The default of 40 bytes matches AWS (a 64-character Base32StringSeed). RFC 4226 requires
    at least 128 bits, so ``length`` must be at least 16.
    """
    if length < 16:
        raise ValueError(f"seed length must be at least 16 bytes, got {length}")
    return secrets.token_bytes(length)


def seed_to_base32(seed: bytes) -> str:
    """Encode a seed as RFC 4648 base32 text, upper case, without ``=`` padding.

    A 40-byte seed gives the 64 characters AWS returns as Base32StringSeed (40 is a multiple
    of 5, so AWS-sized seeds never need padding anyway). Authenticator apps expect the
    unpadded form in an ``otpauth://`` URI.
    """
    _require_seed(seed)
    return base64.b32encode(seed).decode("ascii").rstrip("=")


def base32_to_seed(text: str) -> bytes:
    """Decode base32 seed text (as produced by :func:`seed_to_base32`) back to the seed.

    Lower case, ``=`` padding (complete or missing) and whitespace (as in grouped keys)
    are accepted. Raises :class:`ValueError` for anything else that is not base32, and for
    text that decodes to nothing.
    """
    compact = "".join(text.split()).rstrip("=").upper()
    if not compact.isascii():
        raise ValueError("base32 seed text must be ASCII")
    padded = compact + "=" * (-len(compact) % 8)
    try:
        seed = base64.b32decode(padded)
    except binascii.Error as error:
        raise ValueError(f"not valid base32 seed text: {error}") from None
    if not seed:
        raise ValueError("base32 seed text decodes to an empty seed")
    if seed_to_base32(seed) != compact:
        # Leftover bits in the last character that b32decode silently dropped.
        raise ValueError("not valid base32 seed text: non-canonical trailing bits")
    return seed


def time_step(at: float, step: int = TOTP_STEP_SECONDS, *, t0: int = 0) -> int:
    """Return the RFC 6238 time-step counter ``floor((at - t0) / step)`` for Unix time ``at``."""
    if isinstance(step, bool) or not isinstance(step, int) or step <= 0:
        raise ValueError(f"step must be a positive whole number of seconds, got {step!r}")
    if not math.isfinite(at):
        raise ValueError(f"time must be finite, got {at!r}")
    if at < t0:
        raise ValueError(f"time {at!r} is before the TOTP epoch t0={t0!r}")
    counter = int((at - t0) // step)
    if counter > _MAX_COUNTER:
        raise ValueError(f"time {at!r} is beyond the 64-bit TOTP counter")
    return counter


def hotp(seed: bytes, counter: int, *, digits: int = TOTP_CODE_DIGITS) -> str:
    """Return the RFC 4226 HOTP code (HMAC-SHA-1, dynamic truncation) for ``counter``."""
    _require_seed(seed)
    if isinstance(counter, bool) or not isinstance(counter, int):
        raise TypeError(f"counter must be an int, got {type(counter).__name__}")
    if not 0 <= counter <= _MAX_COUNTER:
        raise ValueError(f"counter must fit in 64 unsigned bits, got {counter}")
    if not _MIN_CODE_DIGITS <= digits <= _MAX_CODE_DIGITS:
        raise ValueError(
            f"digits must be between {_MIN_CODE_DIGITS} and {_MAX_CODE_DIGITS}, got {digits}"
        )
    mac = hmac.new(seed, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    truncated = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFF_FFFF
    return str(truncated % 10**digits).zfill(digits)


def totp(
    seed: bytes,
    at: float,
    *,
    step: int = TOTP_STEP_SECONDS,
    digits: int = TOTP_CODE_DIGITS,
    t0: int = 0,
) -> str:
    """Return the RFC 6238 TOTP code (HMAC-SHA-1) for Unix time ``at`` (int or float)."""
    return hotp(seed, time_step(at, step, t0=t0), digits=digits)


def is_well_formed_code(code: object) -> bool:
    """True if ``code`` is a string of exactly six ASCII digits (AWS's authenticationCodeType)."""
    return (
        isinstance(code, str)
        and len(code) == TOTP_CODE_DIGITS
        and code.isascii()
        and code.isdigit()
    )


def verify_code(
    seed: bytes,
    code: str,
    at: float,
    *,
    window: int = VERIFY_WINDOW_STEPS,
    last_used_step: int | None,
) -> int | None:
    """Check a 6-digit TOTP ``code`` at Unix time ``at``; return the step it matched, or None.

    Steps from ``time_step(at) - window`` to ``time_step(at) + window`` are tried, nearest to
    now first. Steps at or below ``last_used_step`` are refused (replay protection): store the
    returned step and pass it back next time. A code that is not exactly six ASCII digits
    never matches. Comparison is constant-time per candidate.
    """
    _require_seed(seed)
    if window < 0:
        raise ValueError(f"window must not be negative, got {window}")
    if not is_well_formed_code(code):
        return None
    current_step = time_step(at)
    for candidate in _steps_nearest_first(current_step, window):
        if last_used_step is not None and candidate <= last_used_step:
            continue
        if hmac.compare_digest(hotp(seed, candidate), code):
            return candidate
    return None


def verify_consecutive_codes(
    seed: bytes,
    code1: str,
    code2: str,
    at: float,
    *,
    max_drift_steps: int = CONSECUTIVE_CODES_MAX_DRIFT_STEPS,
    last_used_step: int | None = None,
) -> int | None:
    """Check two consecutive codes (EnableMFADevice, ResyncMFADevice); return code2's step.

    ``code2`` must be the code of the step right after ``code1``'s, and ``code2``'s step must
    lie within ``max_drift_steps`` of ``time_step(at)`` (default 10 steps, i.e. 5 minutes
    either way; see :data:`CONSECUTIVE_CODES_MAX_DRIFT_STEPS`). Candidates nearest to now win.
    If ``last_used_step`` is given, ``code1``'s step must be above it. Returns None when the
    codes are malformed, swapped, not consecutive or outside the window. The returned step is
    the new ``last_used_step`` for the device.
    """
    _require_seed(seed)
    if max_drift_steps < 0:
        raise ValueError(f"max_drift_steps must not be negative, got {max_drift_steps}")
    if not (is_well_formed_code(code1) and is_well_formed_code(code2)):
        return None
    current_step = time_step(at)
    codes_by_step: dict[int, str] = {}

    def code_at(step_number: int) -> str:
        if step_number not in codes_by_step:
            codes_by_step[step_number] = hotp(seed, step_number)
        return codes_by_step[step_number]

    for second_step in _steps_nearest_first(current_step, max_drift_steps):
        first_step = second_step - 1
        if first_step < 0:
            continue
        if last_used_step is not None and first_step <= last_used_step:
            continue
        # Evaluate both comparisons so the work done does not depend on which one fails.
        first_matches = hmac.compare_digest(code_at(first_step), code1)
        second_matches = hmac.compare_digest(code_at(second_step), code2)
        if first_matches and second_matches:
            return second_step
    return None


def otpauth_uri(seed: bytes, user_name: str, account: str, issuer: str = "rolegate") -> str:
    """Return the Key URI an authenticator app enrols from.

    ``otpauth://totp/<user_name>@<account>?secret=<base32>&issuer=<issuer>``, the shape AWS
    puts in QRCodePNG (AWS uses the virtual MFA device name as ``user_name`` and the account
    alias or ID as ``account``). The label and issuer are percent-encoded (UTF-8); ``@`` is
    kept literal in the label. An empty ``issuer`` omits the issuer parameter.
    """
    label = quote(f"{user_name}@{account}", safe="@")
    uri = f"otpauth://totp/{label}?secret={seed_to_base32(seed)}"
    if issuer:
        uri += f"&issuer={quote(issuer, safe='')}"
    return uri


def qr_code_png(uri: str) -> bytes:
    """Render ``uri`` as a QR code (error correction level M) and return the PNG bytes.

    A regular (not Micro) QR code, black on white, 5 pixels per module with the standard
    4-module quiet zone; the error level is not boosted, so output is deterministic.
    """
    qr_code = segno.make(uri, error="m", micro=False, boost_error=False)
    buffer = io.BytesIO()
    qr_code.save(buffer, kind="png", scale=_QR_MODULE_SCALE_PIXELS, border=_QR_QUIET_ZONE_MODULES)
    return buffer.getvalue()


def _require_seed(seed: bytes) -> None:
    if not isinstance(seed, bytes | bytearray):
        raise TypeError(f"seed must be bytes, got {type(seed).__name__}")
    if not seed:
        raise ValueError("seed must not be empty")


def _steps_nearest_first(center: int, radius: int) -> Iterator[int]:
    """Yield center, center-1, center+1, center-2, ... out to ``radius``; never below 0."""
    if center >= 0:
        yield center
    for distance in range(1, radius + 1):
        if center - distance >= 0:
            yield center - distance
        if center + distance <= _MAX_COUNTER:
            yield center + distance
