"""Trust-policy principals bound to unique ids (rolegate.iam.principal_binding)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rolegate.errors import MalformedPolicyDocument
from rolegate.iam import roles, users
from rolegate.iam.accounts import create_account
from rolegate.iam.principal_binding import bind_principals, principal_values, render_principals
from rolegate.policy import PolicyKind, parse_policy
from rolegate.store.database import Database, default_sqlite_url

FOREIGN = "999999999999"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(default_sqlite_url(tmp_path))
    db.migrate()
    yield db
    db.dispose()


@pytest.fixture
def account_id(database: Database) -> str:
    with database.write() as uow:
        return create_account(uow, None).account_id


def _trust(*principals: Any, key: str = "Principal") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", key: {"AWS": list(principals)}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def _create_user(database: Database, account_id: str, name: str, path: str = "/") -> str:
    with database.write() as uow:
        return str(users.create_user(uow, account_id, name, path=path).id)


def _bind(database: Database, text: str) -> str:
    with database.write() as uow:
        return bind_principals(uow, text)


def _render(database: Database, text: str) -> str:
    with database.read() as uow:
        return render_principals(uow, text)


def test_user_and_role_arns_become_unique_ids(database: Database, account_id: str) -> None:
    alice = _create_user(database, account_id, "alice", "/dev/")
    with database.write() as uow:
        role = roles.create_role(uow, account_id, "deployer", _trust(account_id))
    alice_arn = f"arn:aws:iam::{account_id}:user/dev/alice"
    role_arn = f"arn:aws:iam::{account_id}:role/deployer"
    stored = _bind(database, _trust(alice_arn, role_arn))
    assert principal_values(stored) == [alice, role.id]
    parse_policy(stored, PolicyKind.TRUST)
    assert json.loads(_render(database, stored)) == json.loads(_trust(alice_arn, role_arn))


def test_other_principals_stay_as_written(database: Database, account_id: str) -> None:
    kept = [
        "*",
        account_id,
        f"arn:aws:iam::{account_id}:root",
        f"arn:aws:sts::{account_id}:assumed-role/deployer/session",
        f"arn:aws:iam::{FOREIGN}:user/nobody",
        f"arn:aws:iam::{FOREIGN}:role/nothing",
    ]
    text = _trust(*kept)
    assert _bind(database, text) == text
    service = json.dumps(
        {
            "Statement": {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        }
    )
    assert _bind(database, service) == service


def test_formatting_and_conditions_are_kept(database: Database, account_id: str) -> None:
    bob = _create_user(database, account_id, "bob")
    arn = f"arn:aws:iam::{account_id}:user/bob"
    text = (
        '{\n  "Version": "2012-10-17",\n  "Statement": {\n    "Effect": "Allow",\n'
        f'    "Principal": {{ "AWS": "{arn}" }},\n    "Action": "sts:AssumeRole",\n'
        f'    "Condition": {{"StringEquals": {{"aws:PrincipalArn": "{arn}"}}}}\n  }}\n}}\n'
    )
    stored = _bind(database, text)
    assert stored == text.replace(f'"AWS": "{arn}"', f'"AWS": "{bob}"')
    assert _render(database, stored) == text


def test_escaped_characters_and_single_statement(database: Database, account_id: str) -> None:
    carol = _create_user(database, account_id, "carol")
    text = (
        '{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole",'
        f'"Principal":{{"AWS":"arn:aws:iam::{account_id}:user\\/carol"}}}}}}'
    )
    stored = _bind(database, text)
    assert principal_values(stored) == [carol]
    assert principal_values(_render(database, stored)) == [f"arn:aws:iam::{account_id}:user/carol"]


def test_names_are_case_insensitive(database: Database, account_id: str) -> None:
    dave = _create_user(database, account_id, "Dave")
    stored = _bind(database, _trust(f"arn:aws:iam::{account_id}:user/DAVE"))
    assert principal_values(stored) == [dave]
    assert principal_values(_render(database, stored)) == [f"arn:aws:iam::{account_id}:user/Dave"]


def test_not_principal_is_bound_too(database: Database, account_id: str) -> None:
    erin = _create_user(database, account_id, "erin")
    stored = _bind(database, _trust(f"arn:aws:iam::{account_id}:user/erin", key="NotPrincipal"))
    assert principal_values(stored) == [erin]


@pytest.mark.parametrize(
    "principal",
    ["user/ghost", "role/ghost", "user/other/frank"],
)
def test_unknown_principal_is_refused(database: Database, account_id: str, principal: str) -> None:
    _create_user(database, account_id, "frank", "/team/")
    arn = f"arn:aws:iam::{account_id}:{principal}"
    with pytest.raises(MalformedPolicyDocument) as caught:
        _bind(database, _trust(arn))
    assert caught.value.message == f'Invalid principal in policy: "AWS":"{arn}"'


def test_render_follows_renames(database: Database, account_id: str) -> None:
    _create_user(database, account_id, "grace")
    stored = _bind(database, _trust(f"arn:aws:iam::{account_id}:user/grace"))
    with database.write() as uow:
        users.update_user(uow, account_id, "grace", new_name="gracie", new_path="/ops/")
    assert principal_values(_render(database, stored)) == [
        f"arn:aws:iam::{account_id}:user/ops/gracie"
    ]


def test_deleted_principal_renders_as_its_old_id(database: Database, account_id: str) -> None:
    old_id = _create_user(database, account_id, "heidi")
    stored = _bind(database, _trust(f"arn:aws:iam::{account_id}:user/heidi"))
    with database.write() as uow:
        users.delete_user(uow, account_id, "heidi")
    assert principal_values(_render(database, stored)) == [old_id]
    new_id = _create_user(database, account_id, "heidi")
    assert new_id != old_id
    assert principal_values(_render(database, stored)) == [old_id]


def test_render_shares_a_cache(database: Database, account_id: str) -> None:
    ivan = _create_user(database, account_id, "ivan")
    stored = _bind(database, _trust(f"arn:aws:iam::{account_id}:user/ivan"))
    cache: dict[str, str | None] = {}
    with database.read() as uow:
        render_principals(uow, stored, cache)
    assert cache == {ivan: f"arn:aws:iam::{account_id}:user/ivan"}


def test_every_json_literal_is_scanned(database: Database, account_id: str) -> None:
    judy = _create_user(database, account_id, "judy")
    text = (
        '{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Condition":'
        '{"NumericEquals":{"k":[NaN,-Infinity,1.5e3,-0,true,false,null]}},'
        f'"Principal":{{"AWS":["arn:aws:iam::{account_id}:user/judy"]}}}}]}}'
    )
    assert principal_values(_bind(database, text)) == [judy]


def test_render_leaves_text_that_is_not_json_alone(database: Database) -> None:
    assert _render(database, '{"Statement": [') == '{"Statement": ['
