"""MLflow admin password rotation: Secrets Manager (moto) and MLflow's user store change together."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.runtime.handlers.mlflow_rotation import CURRENT, PENDING, RotationError, rotate

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


class FakeUserStore:
    """MLflow's basic-auth user store: one password per user, changed only with the current one."""

    def __init__(self, passwords: dict[str, str]) -> None:
        self.passwords = dict(passwords)
        self.changes = 0

    def can_login(self, username: str, password: str) -> bool:
        return self.passwords.get(username) == password

    def change_password(self, username: str, current: str, new: str) -> None:
        if not self.can_login(username, current):
            raise RotationError("401")
        self.passwords[username] = new
        self.changes += 1


class RotatingSecrets:
    """moto's Secrets Manager plus what AWS does when a rotation starts and moto does not emulate: the secret is
    marked rotation-enabled and the new token is staged AWSPENDING before the first step runs."""

    def __init__(self, client: Any, token: str) -> None:
        self._client, self._token = client, token
        self.exceptions = client.exceptions

    def describe_secret(self, **kwargs: Any) -> dict[str, Any]:
        meta = self._client.describe_secret(**kwargs)
        meta["RotationEnabled"] = True
        meta["VersionIdsToStages"].setdefault(self._token, [PENDING])
        return meta

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture()
def secrets() -> Any:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(Name="mlflow-admin-password", SecretString="first-password")
        yield client


def _run(sm: Any, token: str, store: FakeUserStore) -> list[str]:
    return [rotate({"SecretId": "mlflow-admin-password", "ClientRequestToken": token, "Step": step}, sm, store,
                   "admin") for step in STEPS]


def test_rotation_changes_the_password_in_secrets_manager_and_mlflow(secrets: Any) -> None:
    token = str(uuid.uuid4())
    store = FakeUserStore({"admin": "first-password"})
    _run(RotatingSecrets(secrets, token), token, store)
    current = secrets.get_secret_value(SecretId="mlflow-admin-password", VersionStage=CURRENT)
    assert current["VersionId"] == token
    new = current["SecretString"]
    assert new != "first-password" and len(new) == 32
    assert store.passwords["admin"] == new and store.changes == 1


def test_every_step_is_idempotent(secrets: Any) -> None:
    token = str(uuid.uuid4())
    store = FakeUserStore({"admin": "first-password"})
    sm = RotatingSecrets(secrets, token)
    _run(sm, token, store)
    new = store.passwords["admin"]
    again = _run(sm, token, store)  # Secrets Manager retries: nothing changes a second time
    assert again == ["already current"] * 4
    assert store.passwords["admin"] == new and store.changes == 1


def test_a_retried_set_step_does_not_change_the_password_twice(secrets: Any) -> None:
    token = str(uuid.uuid4())
    store = FakeUserStore({"admin": "first-password"})
    sm = RotatingSecrets(secrets, token)
    for step in ("createSecret", "setSecret", "setSecret"):
        rotate({"SecretId": "mlflow-admin-password", "ClientRequestToken": token, "Step": step}, sm, store, "admin")
    assert store.changes == 1


def test_a_store_that_knows_neither_password_fails_the_rotation_and_keeps_the_current(secrets: Any) -> None:
    token = str(uuid.uuid4())
    store = FakeUserStore({"admin": "changed-by-hand"})
    sm = RotatingSecrets(secrets, token)
    rotate({"SecretId": "mlflow-admin-password", "ClientRequestToken": token, "Step": "createSecret"}, sm, store,
           "admin")
    with pytest.raises(RotationError, match="neither"):
        rotate({"SecretId": "mlflow-admin-password", "ClientRequestToken": token, "Step": "setSecret"}, sm, store,
               "admin")
    current = secrets.get_secret_value(SecretId="mlflow-admin-password", VersionStage=CURRENT)
    assert current["SecretString"] == "first-password"


def test_unknown_token_and_disabled_rotation_are_refused(secrets: Any) -> None:
    store = FakeUserStore({"admin": "first-password"})
    with pytest.raises(RotationError, match="not enabled"):
        rotate({"SecretId": "mlflow-admin-password", "ClientRequestToken": "t", "Step": "createSecret"}, secrets,
               store, "admin")
    sm = RotatingSecrets(secrets, "other-token")
    with pytest.raises(RotationError, match="no stage"):
        rotate({"SecretId": "mlflow-admin-password", "ClientRequestToken": "t", "Step": "createSecret"}, sm,
               store, "admin")
