"""The example application runs as its README says: `pytest -n 4`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .project import Project

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE = EXAMPLES / "shop"


def test_shop_example_passes_with_four_workers(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(
        EXAMPLE, project.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    monkeypatch.setenv("DBSNAP_PROJECT", project.name)
    # Its own key: a snapshot of the example built earlier on this daemon, under
    # any project name, would otherwise be found by its key and used.
    monkeypatch.setenv("DBSNAP_CACHE_KEY", project.name)
    result = project.run("-n", "4", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=57)
    result.stdout.fnmatch_lines(
        [
            f"snapshot dbsnap/{project.name}:* (cache miss: *",
            "4 database container(s) started in *",
        ]
    )
    again = project.run("-n", "4", "-p", "no:cacheprovider")
    again.assert_outcomes(passed=57)
    again.stdout.fnmatch_lines(["*(cache hit: nothing seeded)"])


@pytest.mark.parametrize("scope", ["function", "worker"])
def test_fastapi_example_runs_unchanged_at_two_workers(
    project: Project, monkeypatch: pytest.MonkeyPatch, scope: str
) -> None:
    """Its engine is built at import from POSTGRES_*; settings only, no conftest change."""
    pytest.importorskip("fastapi")
    pytest.importorskip("alembic")
    shutil.copytree(
        EXAMPLES / "fastapi",
        project.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", ".venv"),
    )
    monkeypatch.setenv("DBSNAP_PROJECT", project.name)
    monkeypatch.setenv("DBSNAP_CACHE_KEY", project.name)
    monkeypatch.setenv("DBSNAP_SCOPE", scope)
    monkeypatch.setenv("FIRST_SUPERUSER", "admin@example.com")
    monkeypatch.setenv("FIRST_SUPERUSER_PASSWORD", "changethis")
    result = project.run("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=35)
    result.stdout.fnmatch_lines(
        [f"snapshot dbsnap/{project.name}:* (cache miss: *", "2 database container(s) started in *"]
    )


def test_django_example_migrates_once_and_runs_at_two_workers(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its settings name a development server the tests never reach; pytest.ini only
    adds dbsnap_django."""
    pytest.importorskip("django")
    pytest.importorskip("pytest_django")
    shutil.copytree(
        EXAMPLES / "django",
        project.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", ".venv"),
    )
    monkeypatch.setenv("DBSNAP_PROJECT", project.name)
    monkeypatch.setenv("DBSNAP_CACHE_KEY", project.name)
    monkeypatch.setenv("DJANGO_DB_HOST", "dev-db.invalid")
    for cache in ("cache miss", "cache hit"):
        result = project.run("-n", "2", "-p", "no:cacheprovider")
        result.assert_outcomes(passed=37)
        result.stdout.fnmatch_lines([f"snapshot dbsnap/{project.name}:* ({cache}*"])
