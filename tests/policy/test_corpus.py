"""Every case of every corpus file under tests/corpus/ must give its expected decision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolegate.policy.corpus import CorpusCase, load_corpus, run_corpus

CORPUS_DIR = Path(__file__).resolve().parents[1] / "corpus"
CORPUS_FILES = sorted(CORPUS_DIR.glob("*.json"))


def _cases() -> list[tuple[str, CorpusCase]]:
    return [(path.name, case) for path in CORPUS_FILES for case in load_corpus(path)]


ALL_CASES = _cases()


@pytest.mark.parametrize(
    ("file_name", "case"), ALL_CASES, ids=[f"{f}::{c.name}" for f, c in ALL_CASES]
)
def test_corpus_case(file_name: str, case: CorpusCase) -> None:
    (result,) = run_corpus([case])
    assert result.passed, (
        f"{file_name}: {case.name}: expected {case.expect}, got {result.decision.explain()}"
    )


def test_corpus_is_large_and_names_are_unique() -> None:
    names = [case.name for _, case in ALL_CASES]
    assert len(names) >= 300
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates


def test_corpus_files_are_plain_json_objects_with_cases() -> None:
    for path in CORPUS_FILES:
        data = json.loads(path.read_text(encoding="utf-8"))
        assert set(data) == {"cases"}, path.name
