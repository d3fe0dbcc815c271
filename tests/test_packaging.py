"""`pip install .` (the README's quick start and the Docker image) ships everything it needs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def test_wheel_holds_the_migrations_and_package_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("moderation-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = sorted(p.name for p in (ROOT / "moderation/migrations/versions").glob("0*.py"))
    assert migrations
    for name in migrations:
        assert f"moderation/migrations/versions/{name}" in names
    assert "moderation/migrations/env.py" in names
    assert "moderation/migrations/script.py.mako" in names
    assert "moderation/py.typed" in names
    for folder in ("static", "templates"):
        shipped = sorted((ROOT / "moderation/web" / folder).glob("*"))
        assert shipped
        for path in shipped:
            assert f"moderation/web/{folder}/{path.name}" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "moderation = moderation.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
