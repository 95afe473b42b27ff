from __future__ import annotations

import pytest


def test_disabled_plugin_still_knows_its_marker_and_explains_its_fixtures(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBSNAP_DISABLE", "1")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.dbsnap(scope="module")
        def test_marked():
            pass

        def test_asks_for_a_database(dbsnap_db):
            pass
        """
    )
    result = pytester.runpytest_subprocess("--strict-markers", "-p", "no:xdist")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*pytest-dbsnap is disabled (dbsnap_disable); unset it to use its fixtures*"]
    )
