"""A throw-away project folder for inner pytest sessions."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest
from docker.models.images import Image


@dataclass
class Project:
    """A throw-away project folder with its own snapshot namespace."""

    path: Path
    name: str
    client: docker.DockerClient
    pytester: pytest.Pytester
    counter: Path = field(init=False)
    group: str = ""
    """The group whose snapshots this project shares (see :meth:`share`)."""

    def __post_init__(self) -> None:
        self.counter = self.path / "seed-runs.txt"

    def share(self, group: str) -> None:
        """Let this test's snapshot serve the later tests of ``group`` in this test
        session, or take theirs: for tests of what happens after a snapshot is
        found, never of how it is built. :meth:`ini` puts the group in the cache
        key, so no other test finds these snapshots; they are removed at the end
        of the test session."""
        self.group = group

    def write(self, relative: str, text: str) -> Path:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())
        return target

    def ini(self, **settings: str) -> None:
        """Write pytest.ini with dbsnap_project set and the given dbsnap_* keys."""
        lines = ["[pytest]", f"dbsnap_project = {self.name}"]
        lines += [f"dbsnap_{key} = {value}" for key, value in settings.items()]
        if self.group and "cache_key" not in settings:
            lines.append(f"dbsnap_cache_key = shared by the tests of {self.group}")
        self.write("pytest.ini", "\n".join(lines) + "\n")

    def counting_command(self) -> str:
        """A seed command that records each time it runs."""
        return f"echo run >> {self.counter}"

    def seed_runs(self) -> int:
        return len(self.counter.read_text().splitlines()) if self.counter.exists() else 0

    def run(self, *args: str, timeout: float = 300) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess(*args, timeout=timeout)

    def dbsnap(self, *args: str, timeout: float = 300) -> pytest.RunResult:
        """Run the ``dbsnap`` console script in the project folder."""
        script = Path(sys.executable).parent / "dbsnap"
        return self.pytester.run(str(script), *args, timeout=timeout)

    def popen(self, *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "pytest", *args],
            cwd=cwd or self.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def assert_database_error(
        self, result: pytest.RunResult, expected: str, *more: str, passed: int = 0
    ) -> None:
        """The tests that asked for a database errored with ``expected`` (an fnmatch
        pattern of the error's first line, ``more`` its next lines), ``passed`` others
        ran, and the dbsnap summary says it once."""
        assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
        outcomes = result.parseoutcomes()
        assert outcomes.get("errors", 0) >= 1, result.stdout.str()
        assert outcomes.get("passed", 0) == passed, "the tests without a database must still run"
        result.stdout.fnmatch_lines(["*ERROR at setup of *", f"dbsnap: {expected}", *more])
        summary = f"dbsnap: no database for the tests that asked: {expected}"
        result.stdout.fnmatch_lines([summary, *more])
        said = [ln for ln in result.outlines if ln.startswith("dbsnap: no database")]
        assert len(said) == 1, said

    def images(self) -> list[Image]:
        """Snapshots built by this project, or tagged for it (found by key elsewhere)."""
        built = self.client.images.list(filters={"label": f"dbsnap.project={self.name}"})
        tagged = self.client.images.list(filters={"reference": f"dbsnap/{self.name}:*"})
        return list({image.id: image for image in [*built, *tagged]}.values())

    @staticmethod
    def tags(image: Image) -> list[str]:
        """An image's tags as Docker shows them (Podman adds ``docker.io/``, ``localhost/``)."""
        return [re.sub(r"^(localhost/|docker\.io/library/|docker\.io/)", "", t) for t in image.tags]

    def containers(self) -> list[str]:
        found = self.client.containers.list(
            all=True, filters={"label": f"dbsnap.project={self.name}"}, sparse=True
        )
        return [str(c.attrs["Names"][0]).lstrip("/") for c in found]

    def remove_all(self) -> None:
        """Remove what the project kept on purpose (``keep``)."""
        for container in self.client.containers.list(
            all=True, filters={"label": f"dbsnap.project={self.name}"}, sparse=True
        ):
            with contextlib.suppress(docker.errors.NotFound):
                self.client.api.remove_container(container.id, force=True, v=True)
