"""Schemathesis against the app's own OpenAPI schema, in-process, on SQLite and PostgreSQL.

Every operation gets generated requests, valid and invalid, with the credentials it declares
(a site key, an admin's moderator token, or each in turn where both are taken), and every
answer goes through every check schemathesis has: no 500, a documented status, content type,
headers and body, invalid input refused, valid input accepted, declared auth enforced.
Hypothesis is derandomized and bounded, so a run is the same run each time and takes seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.python import asgi

from moderation.app import create_app
from moderation.store import Store
from moderation.store_accounts import Accounts
from tests.conftest import Service, make_settings

# Examples per operation, per generation mode and per credential: enough to reach every
# documented status of this API, few enough that both databases finish in well under a minute.
EXAMPLES = 12


def all_checks() -> list[Any]:
    """Every check this schemathesis release has (the pinned version's 'all')."""
    load_all_checks()
    return [CHECKS.get_one(name) for name in CHECKS.get_all_names()]


@dataclass
class Target:
    """The app's schema bound to the running app, and the credentials it takes."""

    schema: Any
    credentials: dict[str, dict[str, str]]
    comment_id: str


@pytest.fixture
def target(tmp_path: Path, database_url: str) -> Iterator[Target]:
    # No webhook leaves the process: the PUT webhook operation sets generated addresses.
    app = create_app(make_settings(tmp_path, database_url, webhooks_enabled=False))
    # Loading the schema from the app starts its lifespan, which schemathesis keeps running for
    # every request (and the checks' own probes) until it is shut down here.
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        store: Store = app.state.store
        accounts: Accounts = app.state.accounts
        _, key = store.create_site("blog", "https://blog.example")
        accounts.create_moderator("root", password="a long enough passphrase", admin=True)
        token = accounts.create_token("root")
        site = {"Authorization": f"Bearer {key}"}
        comment = _seed_comment(app, key)
        yield Target(
            schema=schema,
            credentials={
                "HTTPBearer": site,
                "ModeratorToken": {"Authorization": f"Bearer {token}"},
                "SiteKeyOrModeratorToken": {"Authorization": f"Bearer {token}"},
            },
            comment_id=comment,
        )
    finally:
        asgi.shutdown_lifespans()


def _seed_comment(app: Any, key: str) -> str:
    with asgi.get_client(app) as client:
        answer = client.post(
            "/v1/comments/check",
            json={
                "post_id": "p1",
                "author_name": "Camille",
                "author_email": "camille@example.org",
                "content": "A fair summary of the council meeting; the vote was on Tuesday.",
            },
            headers={"Authorization": f"Bearer {key}"},
        )
    assert answer.status_code == 201, answer.text
    comment_id: str = answer.json()["id"]
    return comment_id


def _runs(target: Target, operation: Any) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """(label, headers, fixed path parameters) for each pass over one operation."""
    schemes = [name for req in operation.definition.raw.get("security", []) for name in req]
    passes: list[tuple[str, dict[str, str]]] = [
        (name, target.credentials[name]) for name in schemes
    ] or [("no credentials", {})]
    if "SiteKeyOrModeratorToken" in schemes:
        passes.append(("site key", target.credentials["HTTPBearer"]))
    runs: list[tuple[str, dict[str, str], dict[str, Any]]] = []
    names = {p["name"] for p in operation.definition.raw.get("parameters", []) if p["in"] == "path"}
    for label, headers in passes:
        runs.append((label, headers, {}))
        # Random ids only ever find nothing; a seeded comment reaches the 200 answers too.
        if "comment_id" in names:
            runs.append((f"{label}, a stored comment", headers, {"comment_id": target.comment_id}))
        if "name" in names:
            runs.append((f"{label}, a stored site", headers, {"name": "blog"}))
    return runs


# Pagination cursors are opaque: only the service makes valid ones, and any other string is
# its documented 422. Valid requests start at the first page (an empty cursor); invalid ones
# still send generated cursors.
CURSORS = ("cursor", "after")


def first_page(operation: Any) -> dict[str, str] | None:
    """Empty cursors for the operation's cursor parameters, if it has any."""
    names = {p["name"] for p in operation.definition.raw.get("parameters", [])}
    return {name: "" for name in CURSORS if name in names} or None


def fuzz(strategy: Any, headers: dict[str, str], checks: list[Any]) -> tuple[int, str]:
    """Send the strategy's cases with these headers through every check: how many, and the
    failure report ('' when none failed)."""
    sent = 0

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        # Shrinking would only lengthen a failing run; the report shows the failing case.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        case.call_and_validate(headers=headers, checks=checks)

    try:
        run()
    except Unsatisfiable:
        # Nothing of the operation can be made invalid (no parameters, no body): no case.
        return sent, ""
    except (Exception, BaseExceptionGroup) as exc:  # each operation's failures, reported together
        return sent, str(exc)
    return sent, ""


def test_every_operation_keeps_to_its_schema(target: Target) -> None:
    checks = all_checks()
    failures: list[str] = []
    cases = 0
    operations = [result.ok() for result in target.schema.get_all_operations()]
    for operation in operations:
        for label, headers, path_parameters in _runs(target, operation):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = operation.as_strategy(
                    generation_mode=mode,
                    path_parameters=path_parameters or None,
                    query=first_page(operation) if mode is GenerationMode.POSITIVE else None,
                )
                sent, failure = fuzz(strategy, headers, checks)
                cases += sent
                if failure:
                    failures.append(f"{operation.label} ({label}, {mode.value}): {failure}")
    print(
        f"schemathesis: {len(operations)} operations, {len(checks)} checks, {cases} cases, "
        f"{len(failures)} failing"
    )
    assert failures == [], "\n\n".join(failures)


# What schemathesis found, pinned: each of these was a 500 or a 503 before its fix.


def test_blank_queue_filters_filter_nothing(service: Service) -> None:
    accounts = Accounts(service.store)
    accounts.create_moderator("root", password="a long enough passphrase", admin=True)
    headers = {"Authorization": f"Bearer {accounts.create_token('root')}"}
    unfiltered = service.client.get("/v1/queue", headers=headers)
    assert unfiltered.status_code == 200
    for name in ("site", "post_id", "author_email", "text"):
        answer = service.client.get("/v1/queue", params={name: " "}, headers=headers)
        assert answer.status_code == 200, (name, answer.text)
        assert answer.json() == unfiltered.json()


def test_a_delivery_id_past_the_database_range_is_a_422(service: Service) -> None:
    accounts = Accounts(service.store)
    accounts.create_moderator("root", password="a long enough passphrase", admin=True)
    headers = {"Authorization": f"Bearer {accounts.create_token('root')}"}
    answer = service.client.post(f"/v1/admin/webhooks/deliveries/{2**31}/retry", headers=headers)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "delivery_id"
    missing = service.client.post(
        f"/v1/admin/webhooks/deliveries/{2**31 - 1}/retry", headers=headers
    )
    assert missing.status_code == 404
