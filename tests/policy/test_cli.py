"""`rolegate policy test` and `rolegate policy check`, run as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rolegate", *args], capture_output=True, text=True, check=False
    )


def _case(name: str, expect: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "principal": {"arn": "arn:aws:iam::111122223333:user/alice"},
        "action": "s3:GetObject",
        "resource": "arn:aws:s3:::b/k",
        "policies": {"identity": [ALLOW_ALL]},
        "expect": expect,
        **extra,
    }


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_policy_test_passes_and_prints_the_count(tmp_path: Path) -> None:
    corpus = _write(tmp_path / "ok.json", {"cases": [_case("a", "Allow"), _case("b", "Allow")]})
    result = _run("policy", "test", str(corpus))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "2 passed, 0 failed"


def test_policy_test_reports_failures_with_reasons(tmp_path: Path) -> None:
    failing = _case("needs-boundary", "Allow")
    failing["policies"]["boundary"] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}],
    }
    corpus = _write(tmp_path / "bad.json", {"cases": [_case("fine", "Allow"), failing]})
    result = _run("policy", "test", str(corpus))
    assert result.returncode == 1
    assert "needs-boundary" in result.stdout
    assert "expected Allow, got ImplicitDeny" in result.stdout
    assert "no permissions boundary allows" in result.stdout
    assert result.stdout.splitlines()[-1] == "1 passed, 1 failed"


def test_policy_test_exit_2_for_unreadable_or_malformed_files(tmp_path: Path) -> None:
    missing = _run("policy", "test", str(tmp_path / "nope.json"))
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    not_json = tmp_path / "broken.json"
    not_json.write_text("{", encoding="utf-8")
    assert _run("policy", "test", str(not_json)).returncode == 2
    bad_policy = _case("x", "Allow")
    bad_policy["policies"]["identity"] = [{"Statement": [{"Effect": "Allow"}]}]
    result = _run("policy", "test", str(_write(tmp_path / "p.json", {"cases": [bad_policy]})))
    assert result.returncode == 2
    assert "must contain actions" in result.stderr
    no_expect = _case("y", "Allow")
    del no_expect["expect"]
    assert (
        _run("policy", "test", str(_write(tmp_path / "e.json", {"cases": [no_expect]}))).returncode
        == 2
    )


def test_policy_check_valid_and_invalid(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.json", ALLOW_ALL)
    result = _run("policy", "check", str(good))
    assert result.returncode == 0
    assert "valid identity policy" in result.stdout
    trust = _run("policy", "check", str(good), "--kind", "trust")
    assert trust.returncode == 1
    assert "/Statement/0/Resource: Has prohibited field Resource" in trust.stdout
    assert "/Statement/0: Missing required field Principal" in trust.stdout
    broken = tmp_path / "broken.json"
    broken.write_text('{"Statement": [{"Effect": "Allow", "Action": []}]}', encoding="utf-8")
    result = _run("policy", "check", str(broken))
    assert result.returncode == 1
    assert "MalformedPolicyDocument: /Statement/0/Action: Action must not be an empty list" in (
        result.stdout
    )
    assert _run("policy", "check", str(tmp_path / "absent.json")).returncode == 2
