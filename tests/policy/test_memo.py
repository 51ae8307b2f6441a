"""The policy caches are bounded by weight, so distinct documents cannot grow them without
limit (session policies are chosen by any caller allowed to assume a role)."""

from __future__ import annotations

import json

from rolegate.iam import authorization
from rolegate.policy import PolicyKind
from rolegate.policy.compile import compile_policy, policy_weight
from rolegate.policy.memo import WeightedMemo


def test_least_recently_used_values_go_once_the_budget_is_passed() -> None:
    built: list[str] = []
    memo: WeightedMemo[str, str] = WeightedMemo(10, lambda key, value: len(value))

    def build(value: str) -> str:
        built.append(value)
        return value

    assert memo.get("a", lambda: build("aaaa")) == "aaaa"
    assert memo.get("b", lambda: build("bbbb")) == "bbbb"
    assert memo.get("a", lambda: build("never")) == "aaaa"  # a is now the most recent
    memo.get("c", lambda: build("cccc"))  # 12 > 10: b, the least recently used, goes
    assert len(memo) == 2 and memo.total_weight == 8
    assert memo.get("a", lambda: build("never")) == "aaaa"
    assert memo.get("b", lambda: build("bbbb")) == "bbbb"  # built again
    assert built == ["aaaa", "bbbb", "cccc", "bbbb"]


def test_a_value_heavier_than_the_budget_is_still_returned() -> None:
    memo: WeightedMemo[str, str] = WeightedMemo(3, lambda key, value: len(value))
    assert memo.get("big", lambda: "x" * 10) == "x" * 10
    assert len(memo) == 1


def _session_policy(index: int) -> str:
    statements = [
        {
            "Effect": "Allow",
            "Action": [f"s3:GetObject{n}" for n in range(20)],
            "Resource": [f"arn:aws:s3:::bucket-{index}-{n}/*" for n in range(20)],
        }
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def test_distinct_session_policies_stay_within_the_budgets() -> None:
    parsed_budget = authorization._PARSED.budget
    for index in range(3000):
        document = _session_policy(index)
        policy = authorization.parsed_policy(document, PolicyKind.SESSION, "session-policy")
        compile_policy(policy)
    assert authorization._PARSED.total_weight <= parsed_budget
    from rolegate.policy import compile as compiled

    assert compiled._COMPILED.total_weight <= compiled._COMPILED.budget
    assert policy_weight(policy) == 41
    assert len(compiled._COMPILED) < 3000
