"""Rotator of the MLflow admin password: Secrets Manager's four-step protocol, with MLflow's user store as the
"database" whose password is changed.

Secrets Manager calls the function four times per rotation with ``{"SecretId", "ClientRequestToken", "Step"}``
(the protocol of AWS's rotation function templates, Secrets Manager user guide, "Lambda rotation functions"):

- ``createSecret``: store a new random password as the AWSPENDING version (once per token).
- ``setSecret``: change the admin's password in MLflow through its own API
  (``PATCH /api/2.0/mlflow/users/update-password``), authenticated with the AWSCURRENT password. MLflow keeps
  users in one PostgreSQL database shared by every task, so the change holds for all of them.
- ``testSecret``: the AWSPENDING password must log in (``GET /api/2.0/mlflow/users/get``).
- ``finishSecret``: move AWSCURRENT to the pending version.

Every step is idempotent: a repeated call (Secrets Manager retries) finds its work done and changes nothing.
Environment: TRACKING_URL (https://host of the load balancer), ADMIN_USERNAME.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from infra.runtime.clients import AwsClients

log = logging.getLogger(__name__)

CURRENT, PENDING = "AWSCURRENT", "AWSPENDING"
PASSWORD_LENGTH = 32
TIMEOUT_S = 10


class RotationError(RuntimeError):
    """The rotation cannot go on (Secrets Manager marks it failed and retries later)."""


class UserStore(Protocol):
    """Where the password must change too: MLflow's basic-auth user store."""

    def can_login(self, username: str, password: str) -> bool: ...

    def change_password(self, username: str, current: str, new: str) -> None: ...


@dataclass
class MlflowUserStore:
    """MLflow's basic-auth REST API (mlflow.server.auth routes) at `url`."""

    url: str

    def _call(self, method: str, path: str, username: str, password: str,
              body: Mapping[str, Any] | None = None) -> int:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        request = urllib.request.Request(
            self.url.rstrip("/") + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 (https URL)
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    def can_login(self, username: str, password: str) -> bool:
        query = urllib.parse.urlencode({"username": username})
        status = self._call("GET", f"/api/2.0/mlflow/users/get?{query}", username, password)
        if status in (200, 401, 403):
            return status == 200
        raise RotationError(f"MLflow answered {status} to a login check")

    def change_password(self, username: str, current: str, new: str) -> None:
        status = self._call("PATCH", "/api/2.0/mlflow/users/update-password", username, current,
                            {"username": username, "password": new})
        if status != 200:
            raise RotationError(f"MLflow refused the password change ({status})")


def _password(sm: Any, secret: str, stage: str, token: str | None = None) -> str:
    kwargs: dict[str, Any] = {"SecretId": secret, "VersionStage": stage}
    if token:
        kwargs["VersionId"] = token
    return str(sm.get_secret_value(**kwargs)["SecretString"])


def create_pending(sm: Any, secret: str, token: str, store: UserStore, username: str) -> None:
    try:
        _password(sm, secret, PENDING, token)
        return  # already created for this token
    except sm.exceptions.ResourceNotFoundException:
        pass
    new = sm.get_random_password(PasswordLength=PASSWORD_LENGTH, ExcludePunctuation=True)["RandomPassword"]
    sm.put_secret_value(SecretId=secret, ClientRequestToken=token, SecretString=new, VersionStages=[PENDING])


def set_in_store(sm: Any, secret: str, token: str, store: UserStore, username: str) -> None:
    pending = _password(sm, secret, PENDING, token)
    if store.can_login(username, pending):
        return  # a previous call already changed it
    current = _password(sm, secret, CURRENT)
    if not store.can_login(username, current):
        raise RotationError("neither the current nor the pending password logs in to MLflow")
    store.change_password(username, current, pending)


def check_pending(sm: Any, secret: str, token: str, store: UserStore, username: str) -> None:
    if not store.can_login(username, _password(sm, secret, PENDING, token)):
        raise RotationError("the pending password does not log in to MLflow")


def finish(sm: Any, secret: str, token: str, store: UserStore, username: str) -> None:
    versions = sm.describe_secret(SecretId=secret)["VersionIdsToStages"]
    current = next((v for v, stages in versions.items() if CURRENT in stages), None)
    if current == token:
        return
    sm.update_secret_version_stage(SecretId=secret, VersionStage=CURRENT, MoveToVersionId=token,
                                   RemoveFromVersionId=current)


STEPS = {"createSecret": create_pending, "setSecret": set_in_store, "testSecret": check_pending,
         "finishSecret": finish}


def rotate(event: Mapping[str, Any], sm: Any, store: UserStore, username: str) -> str:
    """Run one step of the protocol; returns what was done. Raises RotationError on a request to refuse."""
    secret, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step not in STEPS:
        raise RotationError(f"unknown step {step!r}")
    meta = sm.describe_secret(SecretId=secret)
    if not meta.get("RotationEnabled"):
        raise RotationError(f"rotation is not enabled for {secret}")
    stages = meta.get("VersionIdsToStages", {}).get(token)
    if stages is None:
        raise RotationError(f"version {token} has no stage on {secret}")
    if CURRENT in stages:
        return "already current"
    if PENDING not in stages:
        raise RotationError(f"version {token} is not pending on {secret}")
    STEPS[step](sm, secret, token, store, username)
    return step


_CLIENTS = AwsClients()


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, str]:
    store = MlflowUserStore(os.environ["TRACKING_URL"])
    done = rotate(event, _CLIENTS.client("secretsmanager"), store, os.environ.get("ADMIN_USERNAME", "admin"))
    log.info("rotation step %s: %s", event.get("Step"), done)
    return {"step": str(event.get("Step")), "result": done}
