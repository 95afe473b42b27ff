"""The pytest face of pytest-dbsnap: options, xdist wiring and per-process state.

Installing the plugin changes nothing for a run whose tests ask for no
database: no Docker call, no import of docker-py or psycopg. Each process (an
xdist worker, or the single process without xdist) finds or builds the
snapshot and starts its container the first time a test asks.

When the project configures pytest-dbsnap, the xdist controller prepares the
snapshot early, in a ``tryfirst`` ``pytest_sessionstart`` before xdist starts
its workers, and hands it to each through ``workerinput``; a failure there
reaches only the tests that ask for a database.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import TYPE_CHECKING, Any, Literal

import pytest

from . import env_mode, hooks
from .async_fixtures import (
    _dbsnap_aconn__anyio,
    _dbsnap_async_engine__anyio,
    dbsnap_aconn,
    dbsnap_async_engine,
)
from .config import SETTINGS, Setting, Settings, resolve
from .errors import DbsnapError
from .fixtures import (
    FAILED,
    LEASE,
    STATE,
    _dbsnap_server,
    dbsnap_conn,
    dbsnap_db,
    dbsnap_dsn,
    dbsnap_engine,
    dbsnap_module_db,
    dbsnap_scope,
    dbsnap_worker,
    dbsnap_worker_conn,
)
from .progress import Meter
from .state import State

if TYPE_CHECKING:
    from collections.abc import Callable, Generator

    from _pytest.terminal import TerminalReporter

__all__ = [
    "STATE",
    "_dbsnap_aconn__anyio",
    "_dbsnap_async_engine__anyio",
    "_dbsnap_server",
    "dbsnap_aconn",
    "dbsnap_async_engine",
    "dbsnap_conn",
    "dbsnap_db",
    "dbsnap_dsn",
    "dbsnap_engine",
    "dbsnap_module_db",
    "dbsnap_scope",
    "dbsnap_worker",
    "dbsnap_worker_conn",
]

WorkerReport = dict[str, Any]
WORKER_REPORTS = pytest.StashKey[list[WorkerReport]]()
CRASHED = pytest.StashKey[list[str]]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dbsnap", "pytest-dbsnap: seeded database snapshots")
    for setting in SETTINGS:
        help_text = f"{setting.help} [env {setting.env}, ini {setting.ini}]"
        if setting.kind == "bool":
            group.addoption(
                setting.flag,
                action="store_const",
                const="true",
                default=None,
                dest=setting.ini,
                help=help_text,
            )
        else:
            group.addoption(
                setting.flag,
                default=None,
                dest=setting.ini,
                metavar=setting.name.upper(),
                help=help_text,
            )
        parser.addini(
            setting.ini,
            f"{setting.help} (default: {setting.default or 'none'})",
            type=_ini_type(setting),
            default=None,
        )


def _ini_type(setting: Setting) -> Literal["args", "linelist", "string"]:
    return {"list": "args", "lines": "linelist"}.get(setting.kind, "string")  # type: ignore[return-value]


def _ini(config: pytest.Config, setting: Setting) -> object:
    """The ini value of ``setting``, as written (``None`` when unset).

    pytest 9's native ``[tool.pytest]`` table keeps TOML's types (``3``,
    ``false``, a string where a list is registered), which ``getini`` refuses
    for the types pytest 8.3 knows; then the value is taken as written and
    checked by :func:`~pytest_dbsnap.config.resolve` like any other.
    """
    try:
        return config.getini(setting.ini)
    except pytest.UsageError:
        entry = getattr(config, "_inicfg", {}).get(setting.ini)
        return getattr(entry, "value", entry)


def _settings(config: pytest.Config, flag: Callable[[Setting], object]) -> Settings:
    rootdir = config.inipath.parent if config.inipath else config.rootpath
    try:
        return resolve(rootdir, flag, lambda setting: _ini(config, setting), os.environ)
    except DbsnapError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """With ``dbsnap_env``, the database exists before any conftest is imported."""
    settings = _settings(early_config, lambda setting: env_mode.flag(early_config, setting.ini))
    if settings.disable or not settings.env:
        return
    state = State(early_config, settings)
    early_config.stash[STATE] = state
    env_mode.start(state)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dbsnap(scope=None, mode=None): how this test gets its pristine database "
        "(scope: function, module or worker; mode: clone or container)",
    )
    state = config.stash.get(STATE, None)
    if state is None:
        settings = _settings(config, lambda setting: config.getoption(setting.ini, None))
        if settings.disable:
            return
        state = State(config, settings)
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None:
        state.role = str(workerinput.get("workerid", "worker"))
        state.take(workerinput.get("dbsnap") or {})
    config.stash[STATE] = state
    config.stash[WORKER_REPORTS] = []
    config.stash[CRASHED] = []
    config.add_cleanup(state.close_quietly)  # a safety net behind _dbsnap_server
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(), "dbsnap-xdist")
    if config.pluginmanager.hasplugin("asyncio"):
        from .integrations import pytest_asyncio

        config.pluginmanager.register(pytest_asyncio, "dbsnap-asyncio")
    if state.settings.django:
        from .integrations import django

        try:
            django.install(config, state)
        except DbsnapError as exc:
            raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    state = config.stash.get(STATE, None)
    if state is None:
        return
    state.record_hooks()
    if state.settings.env and state.late:  # an initial conftest came after the snapshot
        raise pytest.UsageError(state.late)
    if state.settings.sqlalchemy_engines and not _runs_no_tests(config):
        from .integrations.sqlalchemy import load_engines

        try:
            state.engines = load_engines(state.settings.sqlalchemy_engines)
        except DbsnapError as exc:
            raise pytest.UsageError(str(exc)) from None
    if config.pluginmanager.hasplugin("dsession") and _likely_needed(config, state):
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        meter = Meter(lambda text: terminal.write_line(f"dbsnap:   {text}") if terminal else None)

        def log(line: str) -> None:
            meter.finish()
            if terminal is not None:
                terminal.write_line(f"dbsnap: {line}")

        state.prepare(log, meter)


def _runs_no_tests(config: pytest.Config) -> bool:
    option = config.option
    return any(
        getattr(option, name, False)
        for name in ("showfixtures", "show_fixtures_per_test", "collectonly", "setupplan")
    )


def _likely_needed(config: pytest.Config, state: State) -> bool:
    """Whether the controller should prepare the snapshot before the workers start."""
    return state.configured and not _runs_no_tests(config)


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE, None)
    if state is not None and state.settings.env and state.late:
        # The database every test uses was made without that hook.
        if hasattr(session.config, "workerinput"):
            state.broken = state.late  # a worker cannot stop the session: its tests fail
        else:
            raise pytest.UsageError(state.late)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash.get(STATE, None)
    if state is not None and state.settings.env and state.broken:
        pytest.fail(f"dbsnap: {state.broken}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    """With ``dbsnap_env``: after a unit of ``dbsnap_scope`` and its fixtures, make the
    database behind the address pristine again."""
    state = item.config.stash.get(STATE, None)
    if (
        state is None
        or not state.settings.env
        or nextitem is None
        or state.unit(item) == state.unit(nextitem)
    ):
        return (yield)
    try:
        result = yield
    except BaseException:
        with contextlib.suppress(DbsnapError):  # later tests fail with it (state.broken)
            state.end_of_unit()
        raise
    try:
        state.end_of_unit()
    except DbsnapError as exc:
        pytest.fail(f"dbsnap: {exc}", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[FAILED] = True
        state = item.config.stash.get(STATE, None)
        lent = item.stash.get(LEASE, None)
        if state is not None and state.settings.keep and lent is not None:
            report.sections.append(
                ("dbsnap", f"kept this test's database: {lent.database.describe()}")
            )
    return report


@pytest.hookimpl(trylast=True)  # after pytest tears down the session's fixtures
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    state = config.stash.get(STATE, None)
    if state is None:
        return
    if state.has_session:
        if session.exitstatus != pytest.ExitCode.INTERRUPTED:
            state.session().share()  # dbsnap_push: after the tests, so that they start sooner
        for problem in state.close():  # harmless when done already
            warnings.warn(f"dbsnap: {problem}", stacklevel=1)
    elif config.stash[CRASHED] and state.owner:
        # Workers that looked after themselves and died: remove what they left.
        state.session().sweep_quietly()
    report = state.report()
    workeroutput: dict[str, Any] | None = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["dbsnap"] = report
    else:
        config.stash[WORKER_REPORTS].append(report)


class XdistHooks:
    """Hooks of pytest-xdist, registered only when xdist is installed."""

    def pytest_configure_node(self, node: Any) -> None:
        state = node.config.stash.get(STATE, None)
        if state is not None:
            node.workerinput["dbsnap"] = state.handout()

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        report = getattr(node, "workeroutput", {}).get("dbsnap")
        if report:
            node.config.stash[WORKER_REPORTS].append(report)
        elif error is not None and STATE in node.config.stash:
            node.config.stash[CRASHED].append(str(node.gateway.id))


def pytest_terminal_summary(terminalreporter: TerminalReporter, config: pytest.Config) -> None:
    if STATE not in config.stash or hasattr(config, "workerinput"):
        return
    reports = config.stash[WORKER_REPORTS]
    lines, warned = summary_lines(reports)
    if not lines and not warned:
        return
    terminalreporter.write_sep("-", "dbsnap")
    for line in warned:
        terminalreporter.write_line(f"dbsnap: {line}", yellow=True)
    for line in lines:
        terminalreporter.write_line(line)


def summary_lines(reports: list[WorkerReport]) -> tuple[list[str], list[str]]:
    """The dbsnap section of the summary, from every process's report: (lines, warnings)."""
    snapshots = [r["snapshot"] for r in reports if r.get("snapshot")]
    asked = any(r.get("asked") for r in reports)
    failures = list(dict.fromkeys(r["failure"] for r in reports if r.get("failure")))
    warned = list(dict.fromkeys(w for r in reports for w in r.get("warnings", ())))
    if not asked and not snapshots:
        return [], []
    lines: list[str] = []
    warned += [f"no database for the tests that asked: {failure}" for failure in failures]
    if snapshots:
        # The process that built it says so; the controller's report (last) knows
        # of the push too.
        snapshot = next((s for s in reversed(snapshots) if s.get("built")), snapshots[-1])
        lines.append(f"snapshot {snapshot['tag']} ({_how(snapshot)})")
    starts = sorted(float(r["start_seconds"]) for r in reports if r.get("container"))
    if starts:
        rams = {int(r.get("ram_bytes", 0)) for r in reports if r.get("container")}
        where = (
            f", databases in RAM ({max(rams) // (1024 * 1024)} MiB tmpfs each)" if all(rams) else ""
        )
        lines.append(
            f"{len(starts)} database container(s) started in "
            f"{starts[len(starts) // 2]:.2f}s median, {starts[-1]:.2f}s max{where}"
        )
    lines += [
        f"Docker daemon: {d}"
        for d in dict.fromkeys(r["daemon"] for r in reports if r.get("daemon"))
    ]
    reaped = sum(int(r.get("reaped", 0)) for r in reports)
    if reaped:
        lines.append(f"removed {reaped} container(s) left by dead sessions")
    made = sum(int(r.get("copies_made", 0)) for r in reports)
    reused = sum(int(r.get("copies_reused", 0)) for r in reports)
    if made or reused:
        lines.append(f"pristine databases: {made} copies made, {reused} handed out again untouched")
    resets = sum(int(r.get("resets", 0)) for r in reports)
    if resets:
        lines.append(f"the database behind dbsnap_env: replaced by a ready copy {resets} time(s)")
    lines += [f"kept {r['container']}: {r['kept']}" for r in reports if r.get("kept")]
    return lines, warned


def _how(snapshot: dict[str, Any]) -> str:
    t: dict[str, float] = snapshot.get("timings") or {}
    if snapshot.get("built"):
        how = (
            f"cache miss: built in {t.get('start', 0) + t.get('seed', 0) + t.get('commit', 0):.1f}s"
            f" (start {t.get('start', 0):.1f}s, seeding {t.get('seed', 0):.1f}s,"
            f" commit {t.get('commit', 0):.1f}s)"
        )
    elif snapshot.get("pulled_from"):
        pulled = f"pulled from {snapshot['pulled_from']} in {t.get('pull', 0):.1f}s"
        how = f"cache hit: {pulled}, nothing seeded"
    else:
        how = "cache hit: nothing seeded"
    if snapshot.get("pushed_to"):
        how += f"; pushed to {snapshot['pushed_to']} in {t.get('push', 0):.1f}s"
    return how
