"""Security headers on every answer, and CORS closed everywhere but the public feed."""

from __future__ import annotations

import base64
import hashlib
import re

from httpx import Response

from moderation.web import pages
from moderation.web.templating import STATIC_FILES
from tests.conftest import Service

API_CSP = "default-src 'none'; frame-ancestors 'none'"
ORIGIN = {"Origin": "https://evil.example"}


def assert_protected(answer: Response) -> None:
    """The headers every answer carries, whatever answered it."""
    where = (answer.request.method, answer.request.url.path, answer.status_code)
    assert answer.headers.get("x-content-type-options") == "nosniff", where
    assert answer.headers.get("x-frame-options") == "DENY", where
    assert answer.headers.get("referrer-policy") in ("no-referrer", "same-origin"), where
    policy = answer.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, where
    assert "unsafe-inline" not in policy, where
    assert "unsafe-eval" not in policy, where
    assert len(answer.headers.get_list("content-security-policy")) == 1, where


def test_api_page_static_404_and_413_answers_carry_the_headers(service: Service) -> None:
    client = service.client
    static = next(iter(STATIC_FILES))
    answers = {
        "api": client.get("/healthz"),
        "check": client.post(
            "/v1/comments/check",
            json={"post_id": "p", "content": "Nice post, thanks for writing it."},
            headers=service.auth,
        ),
        "unauthorised": client.post("/v1/comments/check", json={}),
        "page": client.get("/moderate/login"),
        "static": client.get(f"/moderate/static/{static}"),
        "embed": client.get("/embed/comments.js"),
        "404": client.get("/no/such/thing"),
        "405": client.delete("/healthz"),
        "413": client.post(
            "/v1/comments/check", content=b"x" * (service.settings.max_body_bytes + 1)
        ),
        "schema": client.get("/openapi.json"),
    }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "api": 200,
        "check": 201,
        "unauthorised": 401,
        "page": 200,
        "static": 200,
        "embed": 200,
        "404": 404,
        "405": 405,
        "413": 413,
        "schema": 200,
    }
    for answer in answers.values():
        assert_protected(answer)
    for name in ("api", "check", "unauthorised", "embed", "404", "405", "413", "schema"):
        assert answers[name].headers["content-security-policy"] == API_CSP, name
    # The pages keep their own policy: their scripts and styles from this server only.
    assert "script-src 'self'" in answers["page"].headers["content-security-policy"]
    assert answers["static"].headers["cache-control"] == "public, max-age=86400"


def test_the_docs_page_may_run_its_own_inline_script_and_nothing_else(service: Service) -> None:
    docs = service.client.get("/docs")
    assert docs.status_code == 200
    assert_protected(docs)
    policy = docs.headers["content-security-policy"]
    inline = re.findall(r"<script>(.*?)</script>", docs.text, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    assert script_src.split()[1:] == ["https://cdn.jsdelivr.net", f"'sha256-{digest}'"]
    # ReDoc needs inline styles: it is not served.
    assert service.client.get("/redoc").status_code == 404


def test_no_route_but_the_public_feed_answers_another_origin(service: Service) -> None:
    app = service.client.app
    # Every operation of the API schema, every moderator page, and the app's own routes.
    schema = service.client.get("/openapi.json").json()
    routes = [(path, sorted(m.upper() for m in ops)) for path, ops in schema["paths"].items()]
    for route in [*pages.router.routes, *app.routes]:  # type: ignore[attr-defined]
        methods = getattr(route, "methods", None)
        if methods:
            routes.append((str(getattr(route, "path", "")), sorted(methods)))
    assert len(routes) > 20
    for route_path, methods in routes:
        path = re.sub(r"\{[^}]+\}", "x", route_path)
        for method in methods:
            if method == "HEAD":
                continue
            answer = service.client.request(method, path, headers=ORIGIN)
            assert "access-control-allow-origin" not in answer.headers, (method, path)
            assert_protected(answer)
            preflight = service.client.options(
                path,
                headers={
                    **ORIGIN,
                    "Access-Control-Request-Method": method,
                    "Access-Control-Request-Headers": "authorization, content-type",
                },
            )
            assert preflight.status_code >= 400, (method, path)
            assert not any(h.startswith("access-control-") for h in preflight.headers), path


def test_the_public_feed_is_readable_from_its_sites_own_origin_only(service: Service) -> None:
    token = service.store.public_token("blog")
    answer = service.client.get("/v1/posts/p1/comments", params={"token": token}, headers=ORIGIN)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "https://blog.example"
    assert_protected(answer)
    preflight = service.client.options(
        "/v1/posts/p1/comments",
        headers={"Origin": "https://blog.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers  # a simple GET needs none
