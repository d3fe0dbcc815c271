"""A router's routes added to the app itself behave and document as an included router's."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, WebSocket
from fastapi.testclient import TestClient

from moderation.api import (
    admin,
    akismet,
    authors,
    check,
    embed,
    health,
    metrics,
    model_admin,
    public,
    queue,
    rescore,
)
from moderation.api.routing import include
from moderation.web import pages

ROUTERS = [check, rescore, health, akismet, public, authors, embed, queue, pages, model_admin,
           admin, metrics]  # fmt: skip


@pytest.mark.parametrize("module", ROUTERS, ids=lambda module: module.__name__)
def test_each_router_documents_as_if_included(module: object) -> None:
    router: APIRouter = module.router  # type: ignore[attr-defined]
    included, added = FastAPI(), FastAPI()
    included.include_router(router)
    include(added, router)
    assert added.openapi() == included.openapi()
    # In the router's order, after the app's own documentation routes.
    mine = added.routes[-len(router.routes) :]
    assert [(r.path, r.methods) for r in mine] == [(r.path, r.methods) for r in router.routes]  # type: ignore[attr-defined]


def _dependency() -> str:
    return "real"


def _router() -> APIRouter:
    router = APIRouter(prefix="/items", tags=["items"], responses={404: {"description": "No"}})

    @router.get("/{name}")
    def first(name: str, source: Annotated[str, Depends(_dependency)]) -> dict[str, str]:
        return {"route": "first", "name": name, "source": source}

    @router.get("/{name}")
    def second(name: str) -> dict[str, str]:  # shadowed: the first declared answers
        return {"route": "second", "name": name}

    @router.post("/")
    def create() -> dict[str, str]:
        return {"route": "create"}

    return router


@pytest.mark.parametrize("how", ["include_router", "include"])
def test_routes_answer_as_if_included(how: str) -> None:
    app = FastAPI()
    if how == "include_router":
        app.include_router(_router())
    else:
        include(app, _router())
    client = TestClient(app)
    assert client.get("/items/a").json() == {"route": "first", "name": "a", "source": "real"}
    assert client.post("/items/").json() == {"route": "create"}
    assert client.delete("/items/a").status_code == 405
    assert client.get("/elsewhere").status_code == 404
    # The app's dependency overrides reach the routes: tests and embedders rely on them.
    app.dependency_overrides[_dependency] = lambda: "override"
    assert client.get("/items/b").json()["source"] == "override"
    operation = app.openapi()["paths"]["/items/{name}"]["get"]
    assert operation["tags"] == ["items"]
    assert "404" in operation["responses"]


def test_a_route_that_is_no_api_route_is_refused() -> None:
    router = APIRouter()

    async def echo(websocket: WebSocket) -> None:
        await websocket.close()

    router.add_websocket_route("/ws", echo)
    with pytest.raises(TypeError, match="only API routes"):
        include(FastAPI(), router)
