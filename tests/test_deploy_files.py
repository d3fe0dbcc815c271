"""deploy/compose.yaml and deploy/nginx.conf agree with the product they deploy.

No Docker engine runs the file here, so what would break at `docker compose up` is checked
against the code: every MODERATION_* variable is a setting (an unknown one is silently ignored
by the service), the commands exist, the image is the repository's, the health checks ask
/healthz, the load balancer's address is the one the replicas trust for X-Forwarded-For.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from sqlalchemy import make_url
from typer.testing import CliRunner

from moderation.cli import app
from moderation.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
# What an operator exports before `docker compose up` (the file refuses to start without it).
OPERATOR_ENV = {"POSTGRES_PASSWORD": "s3cretpassword"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


def _interpolate(value: Any) -> Any:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} with the operator's values."""
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: OPERATOR_ENV[m.group(1)], value)
    if isinstance(value, list):
        return [_interpolate(item) for item in value]
    if isinstance(value, dict):
        return {key: _interpolate(item) for key, item in value.items()}
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as Docker Compose reads it (anchors merged, variables filled in)."""
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return dict(_interpolate(loaded))


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose["services"]
    assert isinstance(services, dict)
    return services


def _ours(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run this project's image."""
    return {name: s for name, s in _services(compose).items() if "build" in s}


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _serving(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run `moderation serve`: the replicas."""
    return {n: s for n, s in _ours(compose).items() if s.get("command") == ["moderation", "serve"]}


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _dockerfile_env(name: str) -> str:
    match = re.search(rf"\b{name}=(\S+)", _dockerfile())
    assert match, f"the Dockerfile sets no {name}"
    return match.group(1)


def _nginx() -> str:
    return (DEPLOY / "nginx.conf").read_text(encoding="utf-8")


def test_every_moderation_variable_is_a_setting_and_valid(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    known = {f"MODERATION_{name.upper()}" for name in Settings.model_fields}
    assert _ours(compose), "no service builds the project's image"
    for name, service in _ours(compose).items():
        env = _environment(service)
        unknown = {v for v in env if v.startswith("MODERATION_")} - known
        assert not unknown, f"{name} sets variables the service ignores: {unknown}"
        for variable in known:
            monkeypatch.delenv(variable, raising=False)
        for variable, value in env.items():
            monkeypatch.setenv(variable, value)
        settings = Settings()  # refuses an out-of-range or malformed value, as `serve` would
        assert settings.database_url is not None, f"{name} would use SQLite in its container"


def test_commands_exist_and_the_replicas_run_after_one_migration(
    compose: dict[str, Any],
) -> None:
    group = typer.main.get_command(app)
    commands = set(getattr(group, "commands", {}))
    services = _ours(compose)
    for name, service in services.items():
        command = service["command"]
        assert command[0] == "moderation", name
        assert command[1] in commands, f"{name}: no command {command[1]!r}"
    migrations = [n for n, s in services.items() if s["command"] == ["moderation", "migrate"]]
    assert len(migrations) == 1
    assert services[migrations[0]].get("restart") == "no"
    replicas = _serving(compose)
    count = sum(int(s.get("deploy", {}).get("replicas", 1)) for s in replicas.values())
    assert count >= 3
    for name, service in replicas.items():
        assert service["depends_on"][migrations[0]]["condition"] == (
            "service_completed_successfully"
        ), name
        on_start = _environment(service)["MODERATION_MIGRATE_ON_START"]
        parsed = Settings.model_validate({"migrate_on_start": on_start})
        assert not parsed.migrate_on_start, f"{name} migrates on start: the migrate step does"


def test_the_image_is_built_from_the_repository_dockerfile(compose: dict[str, Any]) -> None:
    images = set()
    for name, service in _ours(compose).items():
        build = service["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == ROOT, name
        assert (context / build.get("dockerfile", "Dockerfile")).resolve() == ROOT / "Dockerfile"
        images.add(service.get("image"))
    assert len(images) == 1, "migrate and the replicas must run the same image"
    assert re.search(r'^CMD \["moderation", "serve"\]', _dockerfile(), re.MULTILINE)


def test_health_checks_ask_healthz_and_postgres_is_15_with_a_volume(
    compose: dict[str, Any],
) -> None:
    port = _dockerfile_env("MODERATION_PORT")
    for name, service in _serving(compose).items():
        probe = " ".join(service["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/healthz" in probe, name
    assert f"EXPOSE {port}" in _dockerfile()
    assert "/healthz" in _dockerfile().split("HEALTHCHECK", 1)[1]
    services = _services(compose)
    hosts = set()
    for name, service in _ours(compose).items():
        url = make_url(_environment(service)["MODERATION_DATABASE_URL"])
        url.get_dialect()  # the driver named in the URL is one the image installs
        db_env = _environment(services[str(url.host)])
        assert (url.username, url.password, url.database) == (
            db_env["POSTGRES_USER"], db_env["POSTGRES_PASSWORD"], db_env["POSTGRES_DB"],
        ), name  # fmt: skip
        hosts.add(str(url.host))
    (host,) = hosts
    db = services[host]
    assert db["image"] in {"postgres:15", "postgres:15-alpine"}
    kept = [v.split(":")[0] for v in db["volumes"]
            if v.split(":")[1] == "/var/lib/postgresql/data"]  # fmt: skip
    assert len(kept) == 1
    assert kept[0] in compose["volumes"], "a named volume: the data must outlive the container"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    (migrate,) = (s for s in _ours(compose).values() if s["command"][1] == "migrate")
    assert migrate["depends_on"][host]["condition"] == "service_healthy"


def test_every_replica_shares_one_models_folder(compose: dict[str, Any]) -> None:
    image_default = _dockerfile_env("MODERATION_MODELS_DIR")
    mounts = set()
    for name, service in _ours(compose).items():
        models_dir = _environment(service).get("MODERATION_MODELS_DIR", image_default)
        matching = [v for v in service["volumes"] if v.split(":")[1] == models_dir]
        assert len(matching) == 1, f"{name} does not mount the models folder"
        source = matching[0].split(":")[0]
        assert source in compose["volumes"], "a named volume, filled from the image at first"
        mounts.add(source)
    assert len(mounts) == 1
    # The service user must own it, or `models promote` in a container cannot move CURRENT.
    assert re.search(rf"chown -R moderation\b[^\n]*\s{re.escape(image_default)}\b", _dockerfile())


def test_nginx_balances_over_the_replicas_and_is_the_trusted_proxy(
    compose: dict[str, Any],
) -> None:
    conf = _nginx()
    services = _services(compose)
    (balancer,) = (s for s in services.values() if str(s.get("image", "")).startswith("nginx:"))
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in balancer["volumes"]
    upstream = re.search(r"upstream (\w+) \{(.*?)\}", conf, re.DOTALL)
    assert upstream
    servers = re.findall(r"server ([\w.-]+):(\d+)", upstream.group(2))
    assert servers == [(name, _dockerfile_env("MODERATION_PORT")) for name in _serving(compose)]
    assert f"proxy_pass http://{upstream.group(1)};" in conf
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in conf
    body_limit = re.search(r"client_max_body_size (\d+)m;", conf)
    assert body_limit
    largest = max(
        Settings.model_fields[name].default
        for name in ("max_body_bytes", "akismet_max_body_bytes", "batch_max_body_bytes")
    )
    assert int(body_limit.group(1)) * 1024 * 1024 >= largest
    (address,) = (n["ipv4_address"] for n in balancer["networks"].values())
    for name, service in _serving(compose).items():
        trusted = _environment(service)["MODERATION_TRUSTED_PROXIES"].split(",")
        assert any(
            ipaddress.ip_address(address) in ipaddress.ip_network(t, strict=False) for t in trusted
        ), name
        # Not the whole network: the database and Redis are no proxies.
        assert all(ipaddress.ip_network(t, strict=False).num_addresses == 1 for t in trusted)


def test_redis_is_there_for_the_shared_rate_limits(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name, service in _serving(compose).items():
        url = make_url(_environment(service)["MODERATION_REDIS_URL"])
        assert url.drivername == "redis", name
        assert str(services[str(url.host)]["image"]).startswith("redis:")
        assert service["depends_on"][str(url.host)]["condition"] == "service_healthy"


def test_migrate_migrates_even_where_start_up_migration_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-shot step shares the replicas' environment, MIGRATE_ON_START=false included."""
    monkeypatch.setenv("MODERATION_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    monkeypatch.setenv("MODERATION_MIGRATE_ON_START", "false")
    runner = CliRunner()
    assert runner.invoke(app, ["sites", "add", "blog"]).exit_code == 2  # no tables yet
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    added = runner.invoke(app, ["sites", "add", "blog"])
    assert added.exit_code == 0, added.output
    assert added.stdout.strip().startswith("mod_")
