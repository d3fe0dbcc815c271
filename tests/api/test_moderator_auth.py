"""Moderator tokens on the API (`Authorization: Bearer mt_...`): 401, 403 or the moderator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from moderation.api.moderator_auth import AdminDep, ModeratorDep
from moderation.app import create_app
from moderation.store import Store
from moderation.store_accounts import Accounts
from tests.conftest import make_settings

PASSWORD = "correct horse battery"

probe = APIRouter(prefix="/test-moderators")


@probe.get("/me")
async def me(moderator: ModeratorDep) -> dict[str, object]:
    return {"name": moderator.name, "sites": sorted(moderator.site_ids)}


@probe.get("/admin")
async def admin_only(moderator: AdminDep) -> dict[str, str]:
    return {"admin": moderator.name}


@dataclass
class Api:
    client: TestClient
    store: Store
    accounts: Accounts
    site_key: str
    blog_id: int


@pytest.fixture
def api(tmp_path: Path, database_url: str) -> Iterator[Api]:
    app = create_app(make_settings(tmp_path, database_url))
    app.include_router(probe)
    with TestClient(app) as client:
        store: Store = app.state.store
        site, key = store.create_site("blog", "https://blog.example")
        store.create_site("news")
        accounts = app.state.accounts
        assert isinstance(accounts, Accounts)
        accounts.create_moderator("camille", password=PASSWORD, sites=["blog"])
        accounts.create_moderator("ada", password=PASSWORD, admin=True)
        yield Api(client, store, accounts, key, site.id)


def test_a_moderator_token_names_the_moderator_and_their_sites(api: Api) -> None:
    token = api.accounts.create_token("camille")
    response = api.client.get("/test-moderators/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"name": "camille", "sites": [api.blog_id]}


def test_no_token_is_401_with_a_bearer_challenge(api: Api) -> None:
    response = api.client.get("/test-moderators/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "moderator token" in response.json()["detail"]
    basic = api.client.get("/test-moderators/me", headers={"Authorization": "Basic Y2FtaWxsZQ=="})
    assert basic.status_code == 401


@pytest.mark.parametrize("token", ["mt_" + "A" * 43, "mt_", "nonsense"])
def test_an_unknown_token_is_401(api: Api, token: str) -> None:
    response = api.client.get("/test-moderators/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid or revoked moderator token"
    assert "invalid_token" in response.headers["WWW-Authenticate"]


def test_a_site_key_is_refused_saying_a_moderator_token_is_needed(api: Api) -> None:
    akismet_key = api.store.add_akismet_key("blog")
    for key in (api.site_key, akismet_key):
        response = api.client.get("/test-moderators/me", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 401
        detail = response.json()["detail"]
        assert "moderator token" in detail
        assert "not a site key" in detail


def test_a_revoked_token_or_disabled_account_is_401_at_once(api: Api) -> None:
    first, second = api.accounts.create_token("camille"), api.accounts.create_token("camille")
    headers = {"Authorization": f"Bearer {first}"}
    assert api.client.get("/test-moderators/me", headers=headers).status_code == 200
    api.accounts.revoke_token(first[:10])
    response = api.client.get("/test-moderators/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid or revoked moderator token"

    headers = {"Authorization": f"Bearer {second}"}
    assert api.client.get("/test-moderators/me", headers=headers).status_code == 200
    api.accounts.disable("camille")
    assert api.client.get("/test-moderators/me", headers=headers).status_code == 401


def test_a_grant_taken_away_is_gone_on_the_next_request(api: Api) -> None:
    token = api.accounts.create_token("camille")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/test-moderators/me", headers=headers).json()["sites"] == [api.blog_id]
    api.accounts.revoke_grant("camille", ["blog"])
    assert api.client.get("/test-moderators/me", headers=headers).json()["sites"] == []


def test_admin_endpoints_are_403_for_moderators_and_open_to_admins(api: Api) -> None:
    moderator = {"Authorization": f"Bearer {api.accounts.create_token('camille')}"}
    admin = {"Authorization": f"Bearer {api.accounts.create_token('ada')}"}
    refused = api.client.get("/test-moderators/admin", headers=moderator)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "admin only"
    assert api.client.get("/test-moderators/admin").status_code == 401
    allowed = api.client.get("/test-moderators/admin", headers=admin)
    assert allowed.status_code == 200
    assert allowed.json() == {"admin": "ada"}
    api.accounts.set_admin("camille", True)
    assert api.client.get("/test-moderators/admin", headers=moderator).status_code == 200
