"""Tests for rolegate.mfa: TOTP codes, verification, seeds, enrolment URI and QR PNG."""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import segno
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rolegate import mfa

VECTORS_PATH = Path(__file__).parent / "vectors" / "totp-rfc6238.json"
RFC_VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
RFC_SEED = RFC_VECTORS["secret_ascii"].encode("ascii")
RFC_SEED_BASE32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# A step far from the epoch, so every window in these tests stays above step 0.
BASE_STEP = 56_000_000
BASE_STEP_START = BASE_STEP * 30

PROPERTY_SETTINGS = settings(deadline=None, max_examples=150)


def code_for_step(step_number: int, seed: bytes = RFC_SEED) -> str:
    return mfa.hotp(seed, step_number)


# --------------------------------------------------------------------------- RFC 6238 vectors


def test_vector_file_is_the_sha1_thirty_second_table() -> None:
    assert RFC_VECTORS["algorithm"] == "SHA1"
    assert RFC_VECTORS["step_seconds"] == 30
    assert len(RFC_VECTORS["cases"]) == 6


@pytest.mark.parametrize("case", RFC_VECTORS["cases"], ids=lambda case: str(case["unix_time"]))
def test_rfc6238_vector_eight_digits(case: dict[str, Any]) -> None:
    assert mfa.totp(RFC_SEED, case["unix_time"], digits=8) == case["code8"]


@pytest.mark.parametrize("case", RFC_VECTORS["cases"], ids=lambda case: str(case["unix_time"]))
def test_rfc6238_vector_six_digits(case: dict[str, Any]) -> None:
    assert case["code6"] == case["code8"][-6:]
    assert mfa.totp(RFC_SEED, case["unix_time"]) == case["code6"]
    assert mfa.totp(RFC_SEED, float(case["unix_time"]) + 0.5) == case["code6"]


@pytest.mark.parametrize("case", RFC_VECTORS["cases"], ids=lambda case: str(case["unix_time"]))
def test_rfc6238_vector_verifies_at_its_time(case: dict[str, Any]) -> None:
    at = case["unix_time"]
    assert mfa.verify_code(RFC_SEED, case["code6"], at, last_used_step=None) == at // 30


def test_totp_honours_t0_and_step() -> None:
    assert mfa.totp(RFC_SEED, 59 + 1000, t0=1000, digits=8) == "94287082"
    assert mfa.totp(RFC_SEED, 118, step=60, digits=8) == "94287082"


# --------------------------------------------------------------------------- time steps


@pytest.mark.parametrize(
    ("at", "expected_step"),
    [(0, 0), (29, 0), (29.999, 0), (30, 1), (59, 1), (60, 2), (1111111109, 37037036)],
)
def test_time_step(at: float, expected_step: int) -> None:
    assert mfa.time_step(at) == expected_step


@pytest.mark.parametrize("bad_time", [-1, -0.001, float("nan"), float("inf")])
def test_time_step_refuses_impossible_times(bad_time: float) -> None:
    with pytest.raises(ValueError):
        mfa.time_step(bad_time)


@pytest.mark.parametrize("bad_step", [0, -30])
def test_time_step_refuses_non_positive_step(bad_step: int) -> None:
    with pytest.raises(ValueError):
        mfa.time_step(100, bad_step)


def test_totp_refuses_bad_parameters() -> None:
    with pytest.raises(ValueError):
        mfa.totp(b"", 0)
    with pytest.raises(TypeError):
        mfa.totp("12345678901234567890", 0)  # type: ignore[arg-type]
    for bad_digits in (5, 9):
        with pytest.raises(ValueError):
            mfa.totp(RFC_SEED, 0, digits=bad_digits)
    with pytest.raises(ValueError):
        mfa.hotp(RFC_SEED, -1)
    with pytest.raises(ValueError):
        mfa.hotp(RFC_SEED, 2**64)


def test_hotp_keeps_leading_zeros() -> None:
    assert mfa.totp(RFC_SEED, 1111111109, digits=8) == "07081804"
    assert mfa.totp(RFC_SEED, 1234567890) == "005924"


# --------------------------------------------------------------------------- single codes


@pytest.mark.parametrize("seconds_into_step", [0, 29, 29.999])
@pytest.mark.parametrize("step_offset", [-2, -1, 0, 1, 2])
def test_window_of_one_step_at_step_boundaries(seconds_into_step: float, step_offset: int) -> None:
    at = BASE_STEP_START + seconds_into_step
    code = code_for_step(BASE_STEP + step_offset)
    matched = mfa.verify_code(RFC_SEED, code, at, last_used_step=None)
    if abs(step_offset) <= 1:
        assert matched == BASE_STEP + step_offset
    else:
        assert matched is None


@pytest.mark.parametrize("step_offset", [-3, -2, -1, 0, 1, 2, 3])
def test_window_size_is_configurable(step_offset: int) -> None:
    code = code_for_step(BASE_STEP + step_offset)
    exact = mfa.verify_code(RFC_SEED, code, BASE_STEP_START, window=0, last_used_step=None)
    assert exact == (BASE_STEP if step_offset == 0 else None)
    wide = mfa.verify_code(RFC_SEED, code, BASE_STEP_START, window=2, last_used_step=None)
    assert wide == (BASE_STEP + step_offset if abs(step_offset) <= 2 else None)


def test_code_from_last_second_of_a_step_works_into_the_next_step_only() -> None:
    generated_at = BASE_STEP_START + 29
    code = mfa.totp(RFC_SEED, generated_at)
    for verified_at in (generated_at, generated_at + 1, generated_at + 30):
        assert mfa.verify_code(RFC_SEED, code, verified_at, last_used_step=None) == BASE_STEP
    assert mfa.verify_code(RFC_SEED, code, generated_at + 31, last_used_step=None) is None


def test_code_is_refused_when_replayed() -> None:
    code = code_for_step(BASE_STEP)
    first = mfa.verify_code(RFC_SEED, code, BASE_STEP_START, last_used_step=None)
    assert first == BASE_STEP
    assert mfa.verify_code(RFC_SEED, code, BASE_STEP_START, last_used_step=first) is None
    assert mfa.verify_code(RFC_SEED, code, BASE_STEP_START + 20, last_used_step=first) is None


def test_older_code_in_window_is_refused_after_a_newer_one_was_used() -> None:
    previous_code = code_for_step(BASE_STEP - 1)
    assert (
        mfa.verify_code(RFC_SEED, previous_code, BASE_STEP_START, last_used_step=BASE_STEP) is None
    )
    assert (
        mfa.verify_code(RFC_SEED, previous_code, BASE_STEP_START, last_used_step=BASE_STEP - 2)
        == BASE_STEP - 1
    )


def test_next_code_is_accepted_after_a_use() -> None:
    next_code = code_for_step(BASE_STEP + 1)
    matched = mfa.verify_code(RFC_SEED, next_code, BASE_STEP_START + 30, last_used_step=BASE_STEP)
    assert matched == BASE_STEP + 1


def test_code_for_a_different_seed_is_refused() -> None:
    other_seed = b"another seed of twenty"
    code = mfa.hotp(other_seed, BASE_STEP)
    assert all(code != code_for_step(BASE_STEP + offset) for offset in (-1, 0, 1))
    assert mfa.verify_code(RFC_SEED, code, BASE_STEP_START, last_used_step=None) is None


def _malformed_variants(code: str) -> list[object]:
    arabic_indic = "".join(chr(0x0660 + int(digit)) for digit in code)
    fullwidth = "".join(chr(0xFF10 + int(digit)) for digit in code)
    return [
        "",
        code[:5],
        code + "0",
        code[:5] + "a",
        " " + code,
        code + "\n",
        code[:3] + " " + code[3:5],
        "+" + code[:5],
        "-" + code[:5],
        arabic_indic,
        fullwidth,
        "²³⁴⁵⁶⁷",
        code.encode("ascii"),
        int(code),
        None,
    ]


@pytest.mark.parametrize("variant_index", range(len(_malformed_variants("123456"))))
def test_malformed_codes_are_refused(variant_index: int) -> None:
    code = code_for_step(BASE_STEP)
    variant = _malformed_variants(code)[variant_index]
    assert not mfa.is_well_formed_code(variant)
    assert mfa.verify_code(RFC_SEED, variant, BASE_STEP_START, last_used_step=None) is None  # type: ignore[arg-type]


def test_eight_digit_code_is_refused_by_verify() -> None:
    case = RFC_VECTORS["cases"][0]
    assert mfa.verify_code(RFC_SEED, case["code8"], case["unix_time"], last_used_step=None) is None


def test_verify_code_refuses_negative_window() -> None:
    with pytest.raises(ValueError):
        mfa.verify_code(RFC_SEED, "123456", 100, window=-1, last_used_step=None)


def test_verify_code_near_the_epoch() -> None:
    assert mfa.verify_code(RFC_SEED, code_for_step(0), 5, last_used_step=None) == 0
    assert mfa.verify_code(RFC_SEED, code_for_step(1), 5, last_used_step=None) == 1


# --------------------------------------------------------------------------- consecutive codes


def consecutive_pair(second_step: int) -> tuple[str, str]:
    return code_for_step(second_step - 1), code_for_step(second_step)


@pytest.mark.parametrize("drift", [-10, -3, -1, 0, 1, 5, 10])
def test_consecutive_codes_within_drift_are_accepted(drift: int) -> None:
    code1, code2 = consecutive_pair(BASE_STEP + drift)
    assert (
        mfa.verify_consecutive_codes(RFC_SEED, code1, code2, BASE_STEP_START + 12)
        == BASE_STEP + drift
    )


@pytest.mark.parametrize("drift", [-11, -40, 11, 40])
def test_consecutive_codes_outside_drift_are_refused(drift: int) -> None:
    code1, code2 = consecutive_pair(BASE_STEP + drift)
    assert mfa.verify_consecutive_codes(RFC_SEED, code1, code2, BASE_STEP_START) is None


def test_default_drift_is_ten_steps() -> None:
    assert mfa.CONSECUTIVE_CODES_MAX_DRIFT_STEPS == 10


def test_consecutive_codes_drift_is_configurable() -> None:
    code1, code2 = consecutive_pair(BASE_STEP - 1)
    assert (
        mfa.verify_consecutive_codes(RFC_SEED, code1, code2, BASE_STEP_START, max_drift_steps=0)
        is None
    )
    code1, code2 = consecutive_pair(BASE_STEP)
    assert (
        mfa.verify_consecutive_codes(RFC_SEED, code1, code2, BASE_STEP_START, max_drift_steps=0)
        == BASE_STEP
    )
    code1, code2 = consecutive_pair(BASE_STEP - 25)
    assert (
        mfa.verify_consecutive_codes(RFC_SEED, code1, code2, BASE_STEP_START, max_drift_steps=30)
        == BASE_STEP - 25
    )
    with pytest.raises(ValueError):
        mfa.verify_consecutive_codes(RFC_SEED, code1, code2, BASE_STEP_START, max_drift_steps=-1)


def test_consecutive_codes_in_swapped_order_are_refused() -> None:
    code1, code2 = consecutive_pair(BASE_STEP)
    assert mfa.verify_consecutive_codes(RFC_SEED, code2, code1, BASE_STEP_START) is None


@pytest.mark.parametrize("gap", [0, 2, 3])
def test_non_consecutive_codes_are_refused(gap: int) -> None:
    code1 = code_for_step(BASE_STEP - gap)
    code2 = code_for_step(BASE_STEP)
    if gap == 0:
        assert code1 == code2
    assert mfa.verify_consecutive_codes(RFC_SEED, code1, code2, BASE_STEP_START) is None


def test_consecutive_codes_with_one_wrong_code_are_refused() -> None:
    code1, code2 = consecutive_pair(BASE_STEP)
    wrong_code1 = code_for_step(BASE_STEP + 500)
    wrong_code2 = code_for_step(BASE_STEP + 501)
    assert mfa.verify_consecutive_codes(RFC_SEED, wrong_code1, code2, BASE_STEP_START) is None
    assert mfa.verify_consecutive_codes(RFC_SEED, code1, wrong_code2, BASE_STEP_START) is None


def test_malformed_consecutive_codes_are_refused() -> None:
    code1, code2 = consecutive_pair(BASE_STEP)
    for variant in _malformed_variants(code1):
        assert (
            mfa.verify_consecutive_codes(RFC_SEED, variant, code2, BASE_STEP_START)  # type: ignore[arg-type]
            is None
        )
    for variant in _malformed_variants(code2):
        assert (
            mfa.verify_consecutive_codes(RFC_SEED, code1, variant, BASE_STEP_START)  # type: ignore[arg-type]
            is None
        )


def test_consecutive_codes_respect_last_used_step() -> None:
    code1, code2 = consecutive_pair(BASE_STEP)
    assert (
        mfa.verify_consecutive_codes(
            RFC_SEED, code1, code2, BASE_STEP_START, last_used_step=BASE_STEP - 1
        )
        is None
    )
    assert (
        mfa.verify_consecutive_codes(
            RFC_SEED, code1, code2, BASE_STEP_START, last_used_step=BASE_STEP - 2
        )
        == BASE_STEP
    )


def test_consecutive_codes_near_the_epoch() -> None:
    code1, code2 = consecutive_pair(1)
    assert mfa.verify_consecutive_codes(RFC_SEED, code1, code2, 15) == 1
    assert mfa.verify_consecutive_codes(RFC_SEED, code2, code1, 15) is None


# --------------------------------------------------------------------------- seeds and base32


def test_new_seed_matches_aws_size() -> None:
    seed = mfa.new_seed()
    assert len(seed) == mfa.SEED_LENGTH_BYTES == 40
    text = mfa.seed_to_base32(seed)
    assert re.fullmatch(r"[A-Z2-7]{64}", text)
    assert mfa.base32_to_seed(text) == seed
    assert mfa.new_seed() != seed


def test_new_seed_length_is_configurable_but_at_least_128_bits() -> None:
    assert len(mfa.new_seed(20)) == 20
    with pytest.raises(ValueError):
        mfa.new_seed(15)


def test_rfc_seed_base32() -> None:
    assert mfa.seed_to_base32(RFC_SEED) == RFC_SEED_BASE32
    assert mfa.base32_to_seed(RFC_SEED_BASE32) == RFC_SEED


def test_base32_has_no_padding() -> None:
    assert mfa.seed_to_base32(b"a") == "ME"
    assert mfa.seed_to_base32(b"abcdef") == "MFRGGZDFMY"


@pytest.mark.parametrize(
    "text",
    ["ME", "me", "ME======", "ME=", " M E\n", "mE=="],
)
def test_base32_to_seed_accepts_lenient_spellings(text: str) -> None:
    assert mfa.base32_to_seed(text) == b"a"


@pytest.mark.parametrize(
    "text",
    ["", "====", "M", "MF", "ME0", "ME1", "ME8", "M!", "MÉ", "GEZDGNBVGY3TQOJ="],
)
def test_base32_to_seed_refuses_bad_text(text: str) -> None:
    with pytest.raises(ValueError):
        mfa.base32_to_seed(text)


@PROPERTY_SETTINGS
@given(seed=st.binary(min_size=1, max_size=80))
def test_base32_round_trip(seed: bytes) -> None:
    text = mfa.seed_to_base32(seed)
    assert "=" not in text
    assert mfa.base32_to_seed(text) == seed
    assert mfa.base32_to_seed(text.lower()) == seed


def test_seed_to_base32_refuses_empty_seed() -> None:
    with pytest.raises(ValueError):
        mfa.seed_to_base32(b"")


# --------------------------------------------------------------------------- otpauth URI


def test_otpauth_uri_exact_format() -> None:
    assert mfa.otpauth_uri(RFC_SEED, "alice", "123456789012") == (
        "otpauth://totp/alice@123456789012?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=rolegate"
    )


def test_otpauth_uri_without_issuer() -> None:
    assert mfa.otpauth_uri(RFC_SEED, "alice", "my-alias", issuer="") == (
        "otpauth://totp/alice@my-alias?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    )


def test_otpauth_uri_quotes_label_and_issuer() -> None:
    uri = mfa.otpauth_uri(RFC_SEED, "bob smith/dev?x&y", "acct#1", issuer="Acme & Co")
    assert uri == (
        "otpauth://totp/bob%20smith%2Fdev%3Fx%26y@acct%231"
        "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20%26%20Co"
    )


@PROPERTY_SETTINGS
@given(
    seed=st.binary(min_size=1, max_size=40),
    user_name=st.text(min_size=1, max_size=30),
    account=st.text(min_size=1, max_size=30),
    issuer=st.text(min_size=1, max_size=20),
)
def test_otpauth_uri_parses_back(seed: bytes, user_name: str, account: str, issuer: str) -> None:
    uri = mfa.otpauth_uri(seed, user_name, account, issuer=issuer)
    assert uri.isascii()
    assert not any(character.isspace() for character in uri)
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert unquote(parts.path) == f"/{user_name}@{account}"
    assert not parts.fragment
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=True)
    assert query == {"secret": [mfa.seed_to_base32(seed)], "issuer": [issuer]}
    assert mfa.base32_to_seed(query["secret"][0]) == seed


# --------------------------------------------------------------------------- QR code PNG
#
# A small, independent QR decoder for the tests: parse the PNG (chunks, CRCs, zlib, scanline
# filters), sample the module grid, read the codewords in the standard zigzag order for each
# of the 8 masks, de-interleave the error correction blocks, keep the mask whose every block
# has zero Reed-Solomon syndromes, and parse the numeric/alphanumeric/byte segments. It knows
# level M for versions 1 to 10, which is what qr_code_png produces for otpauth URIs.

# version: (EC codewords per block, [(number of blocks, data codewords per block), ...])
_LEVEL_M_BLOCKS: dict[int, tuple[int, list[tuple[int, int]]]] = {
    1: (10, [(1, 16)]),
    2: (16, [(1, 28)]),
    3: (26, [(1, 44)]),
    4: (18, [(2, 32)]),
    5: (24, [(2, 43)]),
    6: (16, [(4, 27)]),
    7: (18, [(4, 31)]),
    8: (22, [(2, 38), (2, 39)]),
    9: (22, [(3, 36), (2, 37)]),
    10: (26, [(4, 43), (1, 44)]),
}
_ALIGNMENT_CENTERS: dict[int, list[int]] = {
    1: [],
    2: [6, 18],
    3: [6, 22],
    4: [6, 26],
    5: [6, 30],
    6: [6, 34],
    7: [6, 22, 38],
    8: [6, 24, 42],
    9: [6, 26, 46],
    10: [6, 28, 50],
}
_MASKS: list[Callable[[int, int], bool]] = [
    lambda row, col: (row + col) % 2 == 0,
    lambda row, col: row % 2 == 0,
    lambda row, col: col % 3 == 0,
    lambda row, col: (row + col) % 3 == 0,
    lambda row, col: (row // 2 + col // 3) % 2 == 0,
    lambda row, col: (row * col) % 2 + (row * col) % 3 == 0,
    lambda row, col: ((row * col) % 2 + (row * col) % 3) % 2 == 0,
    lambda row, col: ((row + col) % 2 + (row * col) % 3) % 2 == 0,
]
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def _gf256_tables() -> tuple[list[int], list[int]]:
    exponents = [0] * 512
    logarithms = [0] * 256
    value = 1
    for power in range(255):
        exponents[power] = value
        logarithms[value] = power
        value <<= 1
        if value & 0x100:
            value ^= 0x11D
    for power in range(255, 512):
        exponents[power] = exponents[power - 255]
    return exponents, logarithms


_GF_EXP, _GF_LOG = _gf256_tables()


def _gf_multiply(left: int, right: int) -> int:
    if left == 0 or right == 0:
        return 0
    return _GF_EXP[_GF_LOG[left] + _GF_LOG[right]]


def _png_grey_pixels(png: bytes) -> list[list[int]]:
    assert png[:8] == PNG_SIGNATURE
    position = 8
    header: tuple[int, ...] | None = None
    palette: list[bytes] = []
    compressed = b""
    saw_end = False
    while position < len(png):
        (length, chunk_type) = struct.unpack(">I4s", png[position : position + 8])
        data = png[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", png[position + 8 + length : position + 12 + length])
        assert zlib.crc32(chunk_type + data) == crc, chunk_type
        position += 12 + length
        if chunk_type == b"IHDR":
            header = struct.unpack(">IIBBBBB", data)
        elif chunk_type == b"PLTE":
            palette = [data[index : index + 3] for index in range(0, len(data), 3)]
        elif chunk_type == b"IDAT":
            compressed += data
        elif chunk_type == b"IEND":
            saw_end = True
            break
    assert saw_end and position == len(png)
    assert header is not None
    width, height, bit_depth, color_type, compression, filter_method, interlace = header
    assert (compression, filter_method, interlace) == (0, 0, 0)
    assert color_type in (0, 3) and bit_depth in (1, 2, 4, 8)
    raw = zlib.decompress(compressed)
    stride = (width * bit_depth + 7) // 8
    assert len(raw) == height * (stride + 1)
    previous = bytearray(stride)
    pixels: list[list[int]] = []
    for row_index in range(height):
        start = row_index * (stride + 1)
        filter_type = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        for index in range(stride):
            left = line[index - 1] if index else 0
            up = previous[index]
            up_left = previous[index - 1] if index else 0
            if filter_type == 1:
                line[index] = (line[index] + left) & 0xFF
            elif filter_type == 2:
                line[index] = (line[index] + up) & 0xFF
            elif filter_type == 3:
                line[index] = (line[index] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                estimate = left + up - up_left
                nearest = min(
                    (abs(estimate - left), 0, left),
                    (abs(estimate - up), 1, up),
                    (abs(estimate - up_left), 2, up_left),
                )[2]
                line[index] = (line[index] + nearest) & 0xFF
            else:
                assert filter_type == 0
        greys: list[int] = []
        sample_mask = (1 << bit_depth) - 1
        for column in range(width):
            bit_offset = column * bit_depth
            shift = 8 - bit_depth - bit_offset % 8
            sample = (line[bit_offset // 8] >> shift) & sample_mask
            if color_type == 0:
                greys.append(sample * 255 // sample_mask)
            else:
                greys.append(sum(palette[sample]) // 3)
        pixels.append(greys)
        previous = line
    return pixels


def _modules_from_pixels(pixels: list[list[int]]) -> tuple[list[list[bool]], int, int]:
    """Return (dark modules, pixels per module, quiet zone width in modules)."""
    dark = [[grey < 128 for grey in row] for row in pixels]
    assert len(dark) == len(dark[0])
    top = next(row_index for row_index, row in enumerate(dark) if any(row))
    left = dark[top].index(True)
    run = 0
    while dark[top][left + run]:
        run += 1
    assert run % 7 == 0, "finder pattern top edge is 7 modules"
    scale = run // 7
    assert top == left and left % scale == 0
    symbol_pixels = len(dark) - 2 * left
    assert symbol_pixels % scale == 0
    size = symbol_pixels // scale
    modules = [
        [
            dark[top + row * scale + scale // 2][left + col * scale + scale // 2]
            for col in range(size)
        ]
        for row in range(size)
    ]
    for row in range(size):
        for col in range(size):
            block = {
                dark[top + row * scale + dy][left + col * scale + dx]
                for dy in range(scale)
                for dx in range(scale)
            }
            assert len(block) == 1, "every module is a solid square"
    return modules, scale, left // scale


def _function_modules(version: int) -> set[tuple[int, int]]:
    size = 17 + 4 * version
    reserved: set[tuple[int, int]] = set()

    def block(top: int, left: int, height: int, width: int) -> None:
        reserved.update(
            (row, col) for row in range(top, top + height) for col in range(left, left + width)
        )

    block(0, 0, 9, 9)  # top-left finder, separator, format information
    block(0, size - 8, 9, 8)  # top-right finder, separator, format information
    block(size - 8, 0, 8, 9)  # bottom-left finder, separator, format info, dark module
    block(6, 0, 1, size)  # timing patterns
    block(0, 6, size, 1)
    centers = _ALIGNMENT_CENTERS[version]
    if centers:
        finder_corners = {(6, 6), (6, centers[-1]), (centers[-1], 6)}
        for row in centers:
            for col in centers:
                if (row, col) not in finder_corners:
                    block(row - 2, col - 2, 5, 5)
    if version >= 7:
        block(0, size - 11, 6, 3)  # version information
        block(size - 11, 0, 3, 6)
    return reserved


def _zigzag_positions(size: int, reserved: set[tuple[int, int]]) -> list[tuple[int, int]]:
    positions: list[tuple[int, int]] = []
    column = size - 1
    upward = True
    while column > 0:
        if column == 6:
            column -= 1
        rows = range(size - 1, -1, -1) if upward else range(size)
        for row in rows:
            for col in (column, column - 1):
                if (row, col) not in reserved:
                    positions.append((row, col))
        upward = not upward
        column -= 2
    return positions


def _blocks_are_valid(blocks: list[list[int]], ec_length: int) -> bool:
    for block in blocks:
        for power in range(ec_length):
            syndrome = 0
            for codeword in block:
                syndrome = _gf_multiply(syndrome, _GF_EXP[power]) ^ codeword
            if syndrome:
                return False
    return True


def _parse_segments(data: list[int], version: int) -> bytes:
    bits = "".join(f"{codeword:08b}" for codeword in data)
    cursor = 0

    def read(count: int) -> int:
        nonlocal cursor
        assert cursor + count <= len(bits)
        value = int(bits[cursor : cursor + count], 2)
        cursor += count
        return value

    large = version >= 10
    decoded = bytearray()
    while len(bits) - cursor >= 4:
        mode = read(4)
        if mode == 0b0000:
            break
        if mode == 0b0100:
            decoded += bytes(read(8) for _ in range(read(16 if large else 8)))
        elif mode == 0b0010:
            remaining = read(11 if large else 9)
            while remaining >= 2:
                pair = read(11)
                decoded += (_ALPHANUMERIC[pair // 45] + _ALPHANUMERIC[pair % 45]).encode()
                remaining -= 2
            if remaining:
                decoded += _ALPHANUMERIC[read(6)].encode()
        elif mode == 0b0001:
            remaining = read(12 if large else 10)
            while remaining > 0:
                group = min(remaining, 3)
                decoded += str(read({3: 10, 2: 7, 1: 4}[group])).zfill(group).encode()
                remaining -= group
        else:
            raise AssertionError(f"unexpected QR segment mode {mode:04b}")
    return bytes(decoded)


def decode_qr_png(png: bytes) -> tuple[str, int]:
    """Decode a level-M QR code PNG; return (text, version)."""
    modules, _scale, _quiet_zone = _modules_from_pixels(_png_grey_pixels(png))
    return decode_qr_modules(modules)


def decode_qr_modules(modules: list[list[bool]]) -> tuple[str, int]:
    """Decode a level-M QR code module grid (True = dark); return (text, version)."""
    size = len(modules)
    assert (size - 17) % 4 == 0
    version = (size - 17) // 4
    assert version in _LEVEL_M_BLOCKS, f"test decoder knows versions 1-10, got {version}"
    ec_length, groups = _LEVEL_M_BLOCKS[version]
    data_lengths = [data_length for count, data_length in groups for _ in range(count)]
    total_codewords = sum(data_lengths) + ec_length * len(data_lengths)
    positions = _zigzag_positions(size, _function_modules(version))
    remainder_bits = len(positions) - total_codewords * 8
    assert remainder_bits == (7 if 2 <= version <= 6 else 0)
    decodings: list[bytes] = []
    for mask in _MASKS:
        bits = [modules[row][col] != mask(row, col) for row, col in positions]
        codewords = [
            int("".join("1" if bit else "0" for bit in bits[index : index + 8]), 2)
            for index in range(0, total_codewords * 8, 8)
        ]
        stream = iter(codewords)
        blocks: list[list[int]] = [[] for _ in data_lengths]
        for index in range(max(data_lengths)):
            for block, data_length in zip(blocks, data_lengths, strict=True):
                if index < data_length:
                    block.append(next(stream))
        data_blocks = [list(block) for block in blocks]
        for _ in range(ec_length):
            for block in blocks:
                block.append(next(stream))
        if _blocks_are_valid(blocks, ec_length):
            data = [codeword for block in data_blocks for codeword in block]
            decodings.append(_parse_segments(data, version))
    assert len(decodings) == 1, f"expected exactly one valid mask, found {len(decodings)}"
    return decodings[0].decode("utf-8"), version


def test_qr_decoder_reads_a_segno_level_m_symbol() -> None:
    """The test decoder itself works on numeric, alphanumeric and byte segments."""
    for text in ("0123456789", "HELLO WORLD 42", "otpauth://totp/x@y?secret=ME"):
        buffer = io.BytesIO()
        segno.make(text, error="m", micro=False, boost_error=False).save(
            buffer, kind="png", scale=3
        )
        assert decode_qr_png(buffer.getvalue())[0] == text


def test_qr_decoder_refuses_a_damaged_symbol() -> None:
    """No mask passes the Reed-Solomon check once one data module is flipped."""
    png = mfa.qr_code_png(mfa.otpauth_uri(RFC_SEED, "alice", "123456789012"))
    modules, _scale, _quiet_zone = _modules_from_pixels(_png_grey_pixels(png))
    assert decode_qr_modules(modules)[0].startswith("otpauth://")
    version = (len(modules) - 17) // 4
    row, col = _zigzag_positions(len(modules), _function_modules(version))[100]
    modules[row][col] = not modules[row][col]
    with pytest.raises(AssertionError, match="exactly one valid mask"):
        decode_qr_modules(modules)


@pytest.mark.parametrize(
    ("uri", "expected_version"),
    [
        ("otpauth://totp/a@1?secret=ME", 3),
        (mfa.otpauth_uri(RFC_SEED, "alice", "123456789012"), 6),
        (mfa.otpauth_uri(bytes(range(40)), "bob smith", "123456789012", issuer="Acme & Co"), 8),
    ],
)
def test_qr_code_png_decodes_to_the_uri(uri: str, expected_version: int) -> None:
    png = mfa.qr_code_png(uri)
    assert png.startswith(PNG_SIGNATURE)
    assert decode_qr_png(png) == (uri, expected_version)


def test_qr_code_png_geometry_for_an_aws_sized_seed() -> None:
    uri = mfa.otpauth_uri(mfa.new_seed(), "alice", "123456789012")
    png = mfa.qr_code_png(uri)
    assert png.startswith(PNG_SIGNATURE)
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    modules, scale, quiet_zone = _modules_from_pixels(_png_grey_pixels(png))
    assert (scale, quiet_zone) == (5, 4)
    assert width == height == (len(modules) + 2 * quiet_zone) * scale
    text, version = decode_qr_png(png)
    assert text == uri
    assert version == 7  # 121 characters: byte mode at level M fits version 7 (122 bytes)
    assert len(png) < 4096


def test_qr_code_png_is_deterministic() -> None:
    uri = mfa.otpauth_uri(RFC_SEED, "alice", "123456789012")
    assert mfa.qr_code_png(uri) == mfa.qr_code_png(uri)


# --------------------------------------------------------------------------- properties

_seeds = st.binary(min_size=1, max_size=64)
_times = st.one_of(
    st.integers(min_value=60, max_value=2**40),
    st.floats(min_value=60, max_value=2**40, allow_nan=False, allow_infinity=False),
)


@PROPERTY_SETTINGS
@given(seed=_seeds, at=_times)
def test_code_verifies_within_its_step_and_the_next_then_never_again(
    seed: bytes, at: float
) -> None:
    code = mfa.totp(seed, at)
    step_number = mfa.time_step(at)
    # Rule out the one-in-a-million collision with a neighbouring step's code.
    assume(all(mfa.hotp(seed, step_number + offset) != code for offset in (-1, 1, 2)))
    for verified_at in (at, at + 29):
        assert mfa.verify_code(seed, code, verified_at, last_used_step=None) == step_number
        assert mfa.verify_code(seed, code, verified_at, last_used_step=step_number) is None


@PROPERTY_SETTINGS
@given(seed=_seeds, at=_times)
def test_code_is_refused_two_steps_later(seed: bytes, at: float) -> None:
    code = mfa.totp(seed, at)
    step_number = mfa.time_step(at)
    assume(all(mfa.hotp(seed, step_number + offset) != code for offset in (1, 2, 3)))
    assert mfa.verify_code(seed, code, at + 60, last_used_step=None) is None


@PROPERTY_SETTINGS
@given(seed=_seeds, at=st.integers(min_value=600, max_value=2**40), drift=st.integers(-10, 10))
def test_consecutive_codes_within_drift_verify(seed: bytes, at: int, drift: int) -> None:
    second_step = mfa.time_step(at) + drift
    code1, code2 = mfa.hotp(seed, second_step - 1), mfa.hotp(seed, second_step)
    assert mfa.verify_consecutive_codes(seed, code1, code2, at) == second_step
    assert (
        mfa.verify_consecutive_codes(seed, code1, code2, at, last_used_step=second_step - 1) is None
    )


@PROPERTY_SETTINGS
@given(seed=_seeds, at=_times)
def test_totp_is_six_ascii_digits(seed: bytes, at: float) -> None:
    code = mfa.totp(seed, at)
    assert mfa.is_well_formed_code(code)
    assert mfa.totp(seed, at, digits=8)[-6:] == code
