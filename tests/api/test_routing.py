"""A router's routes added to the app itself behave and document as an included router's."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, WebSocket
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

import moderation.api
import moderation.web
from moderation import app as app_module
from moderation.api.routing import include
from moderation.app import create_app
from moderation.web import pages
from tests.conftest import make_settings

# Every router of the service: each module of the HTTP layer that has one.
ROUTERS = [
    module
    for package in (moderation.api, moderation.web)
    for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}.")
    if isinstance(getattr(module := importlib.import_module(info.name), "router", None), APIRouter)
]


def test_every_router_of_the_service_is_found() -> None:
    found = {module.__name__.rsplit(".", 1)[1] for module in ROUTERS}
    assert {"check", "akismet", "queue", "pages", "metrics"} <= found
    assert len(found) == 12


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


def _no_teapots(request: Request) -> None:
    if request.headers.get("x-teapot"):
        raise HTTPException(418, "no teapots")


def _router() -> APIRouter:
    router = APIRouter(
        prefix="/items",
        tags=["items"],
        responses={404: {"description": "No"}},
        dependencies=[Depends(_no_teapots)],
    )

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
    # The router's own dependencies run for each of its routes.
    assert client.post("/items/", headers={"x-teapot": "yes"}).status_code == 418
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


def test_the_service_documents_and_routes_as_with_include_router(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'routing.db'}")
    added = create_app(settings)
    with monkeypatch.context() as patch:
        for module in (app_module, pages):
            patch.setattr(module, "include", lambda app, router: app.include_router(router))
        included = create_app(settings)
    assert added.openapi() == included.openapi()
    # Every route the included routers held, in the same order.
    assert _paths(added.routes) == _paths(included.routes)


def _paths(routes: Sequence[BaseRoute]) -> list[tuple[object, object]]:
    """Each route's path and methods, in order, those of included routers in their place."""
    found: list[tuple[object, object]] = []
    for route in routes:
        branch = getattr(route, "original_router", None)
        if branch is not None:
            found.extend(_paths(branch.routes))
        else:
            found.append((getattr(route, "path", None), getattr(route, "methods", None)))
    return found
