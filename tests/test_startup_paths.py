"""The shortcuts a start takes: the model file read without joblib's slow unpickler, and no
alembic run for a database already at the newest revision. Each must give what the long way
gives."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from moderation import artifacts
from moderation.classifier import SpamClassifier, build_pipeline
from moderation.store import make_engine, migrate
from tests.conftest import MODELS_DIR

ROOT = Path(__file__).resolve().parent.parent


def _same(a: Any, b: Any) -> bool:
    # Equal pickles: the same types, values, dtypes, byte orders and sharing, all the way down.
    return pickle.dumps(a, protocol=5) == pickle.dumps(b, protocol=5)


def test_the_shipped_model_reads_as_joblib_reads_it_without_joblib(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = MODELS_DIR / artifacts.current_version(MODELS_DIR) / artifacts.MODEL_FILE
    expected = joblib.load(path)
    monkeypatch.setattr(joblib, "load", lambda *a, **k: pytest.fail("fell back to joblib.load"))
    pipeline = artifacts.read_joblib(path)
    assert _same(pipeline, expected)
    docs = ["Free casino bonus, click https://spin.example now", "The vote was on Tuesday."]
    assert pipeline.predict_proba(docs).tolist() == expected.predict_proba(docs).tolist()


def _objects() -> dict[str, Any]:
    shared = np.arange(6, dtype=np.int32)
    return {
        "float32": np.linspace(0, 1, 7, dtype=np.float32),
        "fortran": np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4)),
        "scalar_array": np.array(5),
        "big_endian": np.arange(5, dtype=">f8"),
        "empty": np.zeros((0, 3)),
        "bools": np.array([True, False, True]),
        "strings": np.array(["a", "bb", "ccc"]),
        "shared": [shared, shared, (shared, {"again": shared})],
        "scalars": {"n": np.int64(3), "x": np.float32(0.5)},
        "bytes": b"\x00" * 100_000,
    }


# zlib (joblib's default) and no compression are read quickly; others by joblib itself.
@pytest.mark.parametrize(
    ("compress", "quick"),
    [
        (0, True),
        (3, True),
        (9, True),
        (("zlib", 1), True),
        (("gzip", 3), False),
        (("lzma", 1), False),
    ],
)
def test_any_joblib_file_reads_as_joblib_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compress: Any, quick: bool
) -> None:
    path = tmp_path / "x.joblib"
    joblib.dump(_objects(), path, compress=compress)
    expected = joblib.load(path)
    if quick:
        monkeypatch.setattr(joblib, "load", lambda *a, **k: pytest.fail("fell back to joblib"))
    got = artifacts.read_joblib(path)
    assert _same(got, expected)
    assert got["big_endian"].dtype == expected["big_endian"].dtype
    assert got["shared"][0] is not got["shared"][1]  # as joblib: each occurrence its own array


def test_arrays_of_objects_read_as_joblib_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "x.joblib"
    value = {"objects": np.array([{"a": 1}, None, "x"], dtype=object), "n": np.arange(4)}
    joblib.dump(value, path, compress=3)
    assert _same(artifacts.read_joblib(path), joblib.load(path))


def test_a_fitted_pipeline_saved_by_save_loads_as_it_was(tmp_path: Path) -> None:
    texts = [f"cheap pills casino offer {i}" for i in range(20)] + [
        f"thanks for the article about the council vote {i}" for i in range(20)
    ]
    pipeline = build_pipeline(calibration_folds=2).fit(texts, [1] * 20 + [0] * 20)
    out = tmp_path / "v1"
    artifacts.save(SpamClassifier(pipeline), out, {"version": "v1"})
    loaded = artifacts.load(out)
    assert _same(loaded.classifier.pipeline, joblib.load(out / artifacts.MODEL_FILE))
    assert loaded.classifier.pipeline.predict_proba(texts).tolist() == (
        pipeline.predict_proba(texts).tolist()
    )


def test_a_plain_pickle_reads_too(tmp_path: Path) -> None:
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"a": np.arange(3)}, protocol=2))
    assert _same(artifacts.read_joblib(path), joblib.load(path))


def _alembic() -> tuple[Config, ScriptDirectory]:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "moderation" / "migrations"))
    return config, ScriptDirectory.from_config(config)


def _revision(url: str) -> set[str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        found = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    engine.dispose()
    return found


def test_a_database_behind_the_newest_revision_is_still_migrated(database_url: str) -> None:
    from alembic import command

    engine = make_engine(database_url)
    migrate(engine)
    newest_tables = set(inspect(engine).get_table_names())
    config, scripts = _alembic()
    head = scripts.get_current_head()
    assert head is not None
    previous = scripts.get_revision(head).down_revision
    assert isinstance(previous, str)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, previous)
    assert _revision(database_url) == {previous}
    migrate(engine)
    assert _revision(database_url) == set(scripts.get_heads())
    assert set(inspect(engine).get_table_names()) == newest_tables
    engine.dispose()


def test_a_start_on_a_database_at_the_newest_revision_leaves_alembic_unloaded(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'moderation.db'}"
    program = (
        "import sys\n"
        "from moderation.store import make_engine, migrate\n"
        f"migrate(make_engine({url!r}))\n"
        "print('alembic' in sys.modules)\n"
    )

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    assert run() == "True"  # a new database: alembic creates the schema
    assert run() == "False"  # already at the newest revision: nothing to run
    _, scripts = _alembic()
    assert _revision(url) == set(scripts.get_heads())
