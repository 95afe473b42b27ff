"""From a fresh clone or a wheel to a passing example, as a newcomer gets there.

The Docker engine already runs (``make example`` starts one only when none
answers), and the offline base image stands in for ``postgres:17`` through
``DBSNAP_IMAGE``, so nothing is pulled from a registry this machine cannot reach.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from pytest_dbsnap.config import resolve

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "shop"


def plain_environment(base_image: str, tmp_path: Path) -> dict[str, str]:
    """This process's environment without the test suite's virtualenv or settings."""
    venv = os.environ.get("VIRTUAL_ENV", "")
    here = str(Path(sys.executable).parent)
    path = [p for p in os.environ["PATH"].split(os.pathsep) if p not in (here, f"{venv}/bin")]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DBSNAP_", "PYTEST_", "VIRTUAL_ENV", "PYTHON"))
    }
    env.update(
        PATH=os.pathsep.join(path),
        DBSNAP_IMAGE=base_image,
        # Its own key: the example's snapshot may be on this daemon under another name.
        DBSNAP_CACHE_KEY=uuid.uuid4().hex,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        HOME=os.environ.get("HOME", str(tmp_path)),
    )
    return env


@pytest.fixture
def cleanup(docker_client: docker.DockerClient) -> Iterator[list[Path]]:
    """Rootdirs whose default project's snapshots go at the end."""
    rootdirs: list[Path] = []
    yield rootdirs
    for rootdir in rootdirs:
        project = resolve(rootdir, lambda _: None, lambda _: None, {}).project
        for image in docker_client.images.list(filters={"label": f"dbsnap.project={project}"}):
            docker_client.images.remove(image.id, force=True)


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )


def test_make_example_from_a_fresh_clone_passes_and_hits_the_cache_the_second_time(
    tmp_path: Path, base_image: str, cleanup: list[Path]
) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    cleanup.append(clone / "examples" / "shop")
    env = plain_environment(base_image, tmp_path)

    first = run(["make", "example"], clone, env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert (clone / ".venv" / "bin" / "python").exists()
    assert "57 passed" in first.stdout
    assert "------ dbsnap ------" in first.stdout
    assert "(cache miss: built in" in first.stdout

    second = run(["make", "example"], clone, env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "(cache hit: nothing seeded)" in second.stdout
    assert "setup: virtualenv" not in second.stderr  # set up once


def test_the_wheel_alone_in_a_fresh_virtualenv_runs_the_example(
    tmp_path: Path, base_image: str, cleanup: list[Path]
) -> None:
    dist = tmp_path / "dist"
    built = run([sys.executable, "-m", "build", "--wheel", "-o", str(dist), str(REPO)], REPO, {
        **os.environ
    })  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = dist.glob("pytest_dbsnap-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(("pytest_dbsnap/", "pytest_dbsnap-")) for n in names), names

    env = plain_environment(base_image, tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    installed = run([python, "-m", "pip", "install", "-q", f"{wheel}[xdist,binary]"], tmp_path, env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    where = run(
        [python, "-c", "import pytest_dbsnap; print(pytest_dbsnap.__file__)"], tmp_path, env
    )
    assert where.stdout.startswith(str(venv)), where.stdout  # the wheel's, not this checkout's

    example = tmp_path / "shop"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns("__pycache__"))
    cleanup.append(example)
    result = run([python, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider"], example, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "57 passed" in result.stdout
    assert "(cache miss: built in" in result.stdout
