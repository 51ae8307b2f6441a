"""Property tests: the fast engine against the reference evaluator, and decision invariants."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_strategies import any_cases, focus_of, is_role_assumption, statements
from reference_evaluator import reference_decide
from rolegate.policy.corpus import evaluate_case

Case = dict[str, Any]
Decide = Callable[[Case], str]


def fast_decide(case: Case) -> str:
    return str(evaluate_case(case).effect.value)


DECIDERS: dict[str, Decide] = {"fast": fast_decide, "reference": reference_decide}


def show(case: Case) -> str:
    return json.dumps(case, indent=1, sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(any_cases())
def test_fast_engine_agrees_with_reference(case: Case) -> None:
    expected = reference_decide(case)
    actual = fast_decide(case)
    assert actual == expected, f"engine: {actual}, reference: {expected}, case:\n{show(case)}"


# ---------------------------------------------------------------- adding statements

# A slot names where a statement goes: ("identity", index | None), ("resource",),
# ("boundary",), ("session", index | None), ("scp", level | None, index | None);
# None means "a new document / level".
Slot = tuple[Any, ...]


def statement_slots(policies: dict[str, Any], effect: str) -> list[Slot]:
    """Where a statement of `effect` may be added without changing what "present" means.

    A new boundary, session policy or SCP level restricts even when it only allows, so an
    Allow goes only into existing ones.
    """
    restricting_is_fine = effect == "Deny"
    identity = policies.get("identity", [])
    session = policies.get("session", [])
    scp = policies.get("scp", [])
    slots: list[Slot] = [("identity", None), ("resource",)]
    slots += [("identity", index) for index in range(len(identity))]
    if restricting_is_fine or "boundary" in policies:
        slots.append(("boundary",))
    if restricting_is_fine or session:
        slots.append(("session", None))
    slots += [("session", index) for index in range(len(session))]
    if restricting_is_fine:
        slots.append(("scp", None, None))
    for level_index, level in enumerate(scp):
        slots.append(("scp", level_index, None))
        slots += [("scp", level_index, index) for index in range(len(level))]
    return slots


def new_document() -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": []}


def target_document(policies: dict[str, Any], slot: Slot) -> dict[str, Any]:
    """The document a slot names inside `policies`, created when it does not exist."""
    kind = slot[0]
    if kind in ("resource", "boundary"):
        return policies.setdefault(kind, new_document())  # type: ignore[no-any-return]
    if kind in ("identity", "session"):
        documents = policies.setdefault(kind, [])
        if slot[1] is None:
            documents.append(new_document())
            return documents[-1]  # type: ignore[no-any-return]
        return documents[slot[1]]  # type: ignore[no-any-return]
    levels = policies.setdefault("scp", [])
    if slot[1] is None:
        levels.append([])
    level = levels[-1] if slot[1] is None else levels[slot[1]]
    if slot[2] is None:
        level.append(new_document())
        return level[-1]  # type: ignore[no-any-return]
    return level[slot[2]]  # type: ignore[no-any-return]


def universal_statement(effect: str, in_resource_policy: bool, trust: bool) -> dict[str, Any]:
    """A statement that applies to every request, so that adding it always matters."""
    statement: dict[str, Any] = {"Effect": effect, "Action": "*"}
    if in_resource_policy:
        statement["Principal"] = "*"
    if not trust:
        statement["Resource"] = "*"
    return statement


@st.composite
def cases_with_added_statement(draw: st.DrawFn, effect: str) -> tuple[Case, Case]:
    case = draw(any_cases())
    changed = copy.deepcopy(case)
    slot = draw(st.sampled_from(statement_slots(changed["policies"], effect)))
    document = target_document(changed["policies"], slot)
    in_resource_policy = slot[0] == "resource"
    trust = in_resource_policy and is_role_assumption(case["action"], case["resource"])
    random_statement = statements(
        effect=effect,
        variables=document.get("Version") == "2012-10-17",
        resource_policy=in_resource_policy,
        trust=trust,
        focus=focus_of(case["principal"], case["action"], case["resource"]),
    )
    statement = draw(
        st.one_of(random_statement, st.just(universal_statement(effect, in_resource_policy, trust)))
    )
    body = document["Statement"]
    document["Statement"] = [*body, statement] if isinstance(body, list) else [body, statement]
    return case, changed


@pytest.mark.parametrize("decider", sorted(DECIDERS))
@settings(max_examples=100, deadline=None)
@given(pair=cases_with_added_statement("Deny"))
def test_adding_a_deny_never_allows(decider: str, pair: tuple[Case, Case]) -> None:
    decide = DECIDERS[decider]
    case, changed = pair
    before, after = decide(case), decide(changed)
    if before != "Allow":
        assert after != "Allow", f"{before} -> {after} after adding a Deny:\n{show(changed)}"
    if before == "ExplicitDeny":
        assert after == "ExplicitDeny", f"explicit deny lifted by a Deny:\n{show(changed)}"


@pytest.mark.parametrize("decider", sorted(DECIDERS))
@settings(max_examples=100, deadline=None)
@given(pair=cases_with_added_statement("Allow"))
def test_adding_an_allow_never_denies(decider: str, pair: tuple[Case, Case]) -> None:
    decide = DECIDERS[decider]
    case, changed = pair
    before, after = decide(case), decide(changed)
    if before in ("Allow", "ExplicitDeny"):
        assert after == before, f"{before} -> {after} after adding an Allow:\n{show(changed)}"


# ---------------------------------------------------------------- order independence


def every_document(policies: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from policies.get("identity", [])
    yield from policies.get("session", [])
    for key in ("resource", "boundary"):
        if key in policies:
            yield policies[key]
    for level in policies.get("scp", []):
        yield from level


def shuffled(case: Case, rng: random.Random) -> Case:
    changed = copy.deepcopy(case)
    policies = changed["policies"]
    for document in every_document(policies):
        if isinstance(document["Statement"], list):
            rng.shuffle(document["Statement"])
    for key in ("identity", "session", "scp"):
        rng.shuffle(policies.get(key, []))
    for level in policies.get("scp", []):
        rng.shuffle(level)
    return changed


@pytest.mark.parametrize("decider", sorted(DECIDERS))
@settings(max_examples=100, deadline=None)
@given(case=any_cases(), seed=st.integers(0, 2**32 - 1))
def test_statement_and_policy_order_never_matters(decider: str, case: Case, seed: int) -> None:
    decide = DECIDERS[decider]
    before = decide(case)
    # Several uniform shuffles per case: a decision is far cheaper than generating a case.
    for attempt in range(4):
        reordered = shuffled(case, random.Random(seed + attempt))
        after = decide(reordered)
        assert before == after, f"{before} -> {after} after reordering:\n{show(reordered)}"
