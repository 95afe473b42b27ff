from __future__ import annotations

from pathlib import Path

import pytest

from pytest_dbsnap.errors import ConfigError
from pytest_dbsnap.seed import SeedPlan, ShellCommand, cache_key, expand_seed, expand_watch


def key(plan: SeedPlan, **overrides: str) -> str:
    args = {"engine": "postgres", "base_image_id": "sha256:1", "dbname": "db", "user": "u"}
    args.update(overrides)
    return cache_key(plan, **args)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "db" / "seed").mkdir(parents=True)
    (tmp_path / "db" / "schema.sql").write_text("create table t (id int);")
    (tmp_path / "db" / "seed" / "02_b.sql").write_text("insert into t values (2);")
    (tmp_path / "db" / "seed" / "01_a.sql").write_text("insert into t values (1);")
    return tmp_path


def test_order_is_as_given_and_folders_sort_by_name(tree: Path) -> None:
    files = expand_seed(["db/schema.sql", "db/seed"], tree)
    assert [f.display for f in files] == ["db/schema.sql", "db/seed/01_a.sql", "db/seed/02_b.sql"]
    files = expand_seed(["db/seed/*.sql", "db/schema.sql"], tree)
    assert [f.display for f in files] == ["db/seed/01_a.sql", "db/seed/02_b.sql", "db/schema.sql"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("db/missing.sql", "dbsnap_seed: 'db/missing.sql' does not exist"),
        ("db/*.psql", "the glob 'db/\\*.psql' matches no file"),
    ],
)
def test_missing_inputs_are_config_errors(tree: Path, entry: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        expand_seed([entry], tree)


def test_key_changes_with_every_input(tree: Path) -> None:
    files = expand_seed(["db/schema.sql", "db/seed"], tree)
    plan = SeedPlan(steps=files, rootdir=tree)
    base = key(plan)
    assert key(plan) == base
    assert key(plan, base_image_id="sha256:2") != base
    assert key(plan, dbname="other") != base
    assert key(plan, user="other") != base
    assert key(SeedPlan(steps=files[::-1], rootdir=tree)) != base
    assert key(SeedPlan(steps=files, extra=("v2",), rootdir=tree)) != base
    command = ShellCommand("make seed", tree)
    assert key(SeedPlan(steps=(*files, command), rootdir=tree)) != base
    (tree / "db" / "seed" / "01_a.sql").write_text("insert into t values (10);")
    assert key(plan) == base  # the plan holds the bytes it read: what it will seed
    changed = expand_seed(["db/schema.sql", "db/seed"], tree)
    assert key(SeedPlan(steps=changed, rootdir=tree)) != base


def test_watched_files_feed_the_key(tree: Path) -> None:
    (tree / "migrations").mkdir()
    (tree / "migrations" / "0001.py").write_text("up = 1")
    watched = expand_watch(["migrations/*.py"], tree)
    plan = SeedPlan(watched=watched, rootdir=tree)
    before = key(plan)
    (tree / "migrations" / "0001.py").write_text("up = 2")
    assert key(plan) != before


def test_summary_names_the_inputs(tree: Path) -> None:
    files = expand_seed(["db/schema.sql", "db/seed"], tree)
    summary = SeedPlan(steps=files, rootdir=tree).summary()
    assert summary == "sql: db/schema.sql, db/seed/01_a.sql, db/seed/02_b.sql"
    assert SeedPlan().summary() == "empty database"
