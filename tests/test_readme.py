"""What the README names in the code is there: its files, its modules' functions and classes.

The README points readers at the code (`Store._author_locks` makes a guarantee across instances,
`bench/wake_penalty.py` measures a figure); a rename that leaves it pointing at nothing sends
them looking for what does not exist.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cache
from types import ModuleType

import pytest

import moderation
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
_QUOTED = re.compile(r"`([^`\s]+)`")
# A path in the repository: it starts with one of its top-level folders.
_FOLDERS = ("bench", "deploy", "docs", "models", "moderation", "tests", "training", ".ci")
# `module.name` or `Class.attribute`, optionally under the package's `api/` or `web/`.
_DOTTED = re.compile(r"(?:(api|web)/)?([A-Za-z_]\w*)\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")
# A file's name alone (`store.py`, `report.html`): the last part after the dot is no attribute.
_EXTENSIONS = ("py", "html", "json", "joblib", "pickle", "yaml", "conf", "md", "txt", "php")


def _quoted() -> list[str]:
    return sorted(set(_QUOTED.findall(README)))


@cache
def _modules() -> dict[str, ModuleType]:
    """Every module of the package (its migrations aside), by dotted name."""
    found: dict[str, ModuleType] = {"moderation": moderation}
    for info in pkgutil.walk_packages(moderation.__path__, "moderation."):
        if ".migrations" not in info.name:
            found[info.name] = importlib.import_module(info.name)
    return found


def _paths() -> list[str]:
    return [
        token.rstrip("/")
        for token in _quoted()
        if token.split("/", 1)[0] in _FOLDERS and "/" in token
    ]


def _python_files() -> list[str]:
    """The quoted bare names of Python files (`store.py`): modules of the package or scripts."""
    return [token for token in _quoted() if re.fullmatch(r"\w+\.py", token)]


def _names() -> list[tuple[str, object, str]]:
    """(the quoted text, the module or class it starts with, the attributes after it) of each
    quoted `x.y` whose head is one of the package's modules or classes; others (a library's
    `httpx.AsyncClient`, a file name, a host) are not the code's to check."""
    modules = _modules()
    classes = {
        name: value
        for module in modules.values()
        for name, value in vars(module).items()
        if isinstance(value, type) and value.__module__.startswith("moderation")
    }
    found: list[tuple[str, object, str]] = []
    for token in _quoted():
        match = _DOTTED.fullmatch(token)
        if match is None or match.group(3) in _EXTENSIONS:
            continue
        package, head, rest = match.groups()
        module = f"moderation.{package}.{head}" if package else f"moderation.{head}"
        target = modules.get(module) or (classes.get(head) if package is None else None)
        if target is not None:
            found.append((token, target, rest))
    return found


def test_the_readme_names_files_and_code_at_all() -> None:
    # The checks below are only as good as what they find to check.
    assert "bench/wake_penalty.py" in _paths()
    assert "store_prepared.py" in _python_files()
    assert any(token == "Store.check_and_save_many" for token, *_ in _names())
    assert any(token == "api/routing.include" for token, *_ in _names())


@pytest.mark.parametrize("name", _python_files())
def test_every_python_file_the_readme_names_is_in_the_repository(name: str) -> None:
    places = [ROOT / folder for folder in ("moderation", "bench", "training", "tests")]
    assert any(next(place.rglob(name), None) for place in places), (
        f"the README names {name}, which is in none of {[p.name for p in places]}"
    )


@pytest.mark.parametrize("path", _paths())
def test_every_path_the_readme_names_is_in_the_repository(path: str) -> None:
    assert (ROOT / path).exists(), f"the README names {path}, which is not in the repository"


def test_every_function_and_class_the_readme_names_exists() -> None:
    missing = []
    for token, target, rest in _names():
        for attribute in rest.split("."):
            if not hasattr(target, attribute):
                missing.append(token)
                break
            target = getattr(target, attribute)
    assert not missing, f"the README names code that is not there: {missing}"
