"""The pytest face of pytest-dbsnap: options, xdist wiring and per-process state.

The xdist controller builds (or finds) the snapshot in a ``tryfirst``
``pytest_sessionstart``, before xdist starts its workers, and hands the tag to
each worker through ``workerinput``. Each worker, or the single process without
xdist, starts its own container from it the first time a test asks.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from . import hooks
from .config import SETTINGS, Setting, Settings, resolve
from .errors import DbsnapError
from .fixtures import (
    FAILED,
    LEASE,
    dbsnap_conn,
    dbsnap_db,
    dbsnap_dsn,
    dbsnap_module_db,
    dbsnap_runtime,
    dbsnap_worker,
    dbsnap_worker_conn,
)
from .progress import Meter
from .runtime import Runtime
from .seed import (
    PythonSeed,
    SeedPlan,
    SeedStep,
    ShellCommand,
    expand_seed,
    expand_watch,
    flatten_extra,
)
from .snapshot import Snapshot

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence

    from _pytest.terminal import TerminalReporter

    from .engines.postgres import Database
    from .instance import Instance

__all__ = [
    "RUNTIME",
    "dbsnap_conn",
    "dbsnap_db",
    "dbsnap_dsn",
    "dbsnap_module_db",
    "dbsnap_runtime",
    "dbsnap_worker",
    "dbsnap_worker_conn",
]

RUNTIME = pytest.StashKey[Runtime]()
WorkerReport = dict[str, Any]
WORKER_REPORTS = pytest.StashKey[list[WorkerReport]]()


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


def _ini_type(setting: Setting) -> Literal["args", "string"]:
    return "args" if setting.kind == "list" else "string"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dbsnap(scope=None, mode=None): how this test gets its pristine database "
        "(scope: function, module or worker; mode: clone or container)",
    )
    rootdir = config.inipath.parent if config.inipath else config.rootpath

    def flag(setting: Setting) -> str | None:
        value: str | None = config.getoption(setting.ini, None)
        return value

    def ini(setting: Setting) -> str | Sequence[str] | None:
        value: str | list[str] | None = config.getini(setting.ini)
        return value

    try:
        settings = resolve(rootdir, flag, ini, os.environ)
    except DbsnapError as exc:
        raise pytest.UsageError(str(exc)) from None
    if settings.disable:
        return

    runtime = Runtime(settings, plan=lambda: _seed_plan(config, settings))
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None:
        runtime.role = str(workerinput.get("workerid", "worker"))
        runtime.owner = False  # the controller's sentinel speaks for the session
        handed = workerinput.get("dbsnap")
        if handed:
            runtime.session = handed["session"]
            runtime.snapshot = Snapshot.from_dict(handed["snapshot"])
    config.stash[RUNTIME] = runtime
    config.stash[WORKER_REPORTS] = []
    config.add_cleanup(runtime.close_quietly)  # a safety net behind dbsnap_runtime
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(), "dbsnap-xdist")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    runtime = config.stash.get(RUNTIME, None)
    if runtime is None or not config.pluginmanager.hasplugin("dsession"):
        return
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        meter = Meter(lambda text: terminal.write_line(f"dbsnap:   {text}"))

        def log(line: str) -> None:
            meter.finish()
            terminal.write_line(f"dbsnap: {line}")

        runtime.log, runtime.progress = log, meter
    try:
        runtime.ensure_snapshot()
    except DbsnapError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[FAILED] = True
        runtime = item.config.stash.get(RUNTIME, None)
        lent = item.stash.get(LEASE, None)
        if runtime is not None and runtime.settings.keep and lent is not None:
            report.sections.append(
                ("dbsnap", f"kept this test's database: {runtime.engine.describe(lent.database)}")
            )
    return report


@pytest.hookimpl(trylast=True)  # after pytest tears down the session's fixtures
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    runtime = config.stash.get(RUNTIME, None)
    if runtime is None:
        return
    if session.exitstatus != pytest.ExitCode.INTERRUPTED:
        runtime.share()  # dbsnap_push: after the tests, so that they start sooner
    for problem in runtime.close():  # harmless when done already
        warnings.warn(f"dbsnap: {problem}", stacklevel=1)
    if not runtime.started:
        return
    # Session fixtures are gone by now: xdist and pytest tear them down with
    # the last test. What started is remembered in runtime.started.
    report = instance_report(runtime, runtime.started[0])
    workeroutput: dict[str, Any] | None = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["dbsnap"] = report
    else:
        config.stash[WORKER_REPORTS].append(report)


class XdistHooks:
    """Hooks of pytest-xdist, registered only when xdist is installed."""

    def pytest_configure_node(self, node: Any) -> None:
        runtime = node.config.stash.get(RUNTIME, None)
        if runtime is not None and runtime.snapshot is not None:
            node.workerinput["dbsnap"] = {
                "session": runtime.session,
                "snapshot": runtime.snapshot.as_dict(),
            }

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        report = getattr(node, "workeroutput", {}).get("dbsnap")
        if report:
            node.config.stash[WORKER_REPORTS].append(report)


def pytest_terminal_summary(terminalreporter: TerminalReporter, config: pytest.Config) -> None:
    runtime = config.stash.get(RUNTIME, None)
    if runtime is None or runtime.snapshot is None or hasattr(config, "workerinput"):
        return
    reports = config.stash[WORKER_REPORTS]
    snapshot = runtime.snapshot
    t = snapshot.timings
    if snapshot.built:
        how = (
            f"cache miss: built in {t.get('start', 0) + t.get('seed', 0) + t.get('commit', 0):.1f}s"
            f" (start {t.get('start', 0):.1f}s, seeding {t.get('seed', 0):.1f}s,"
            f" commit {t.get('commit', 0):.1f}s)"
        )
    elif snapshot.pulled_from:
        pulled = f"pulled from {snapshot.pulled_from} in {t.get('pull', 0):.1f}s"
        how = f"cache hit: {pulled}, nothing seeded"
    else:
        how = "cache hit: nothing seeded"
    if snapshot.pushed_to:
        how += f"; pushed to {snapshot.pushed_to} in {t.get('push', 0):.1f}s"
    terminalreporter.write_sep("-", "dbsnap")
    for warning in runtime.warnings:
        terminalreporter.write_line(f"dbsnap: {warning}", yellow=True)
    terminalreporter.write_line(f"snapshot {snapshot.tag} ({how})")
    if reports:
        starts = sorted(float(r["start_seconds"]) for r in reports)
        terminalreporter.write_line(
            f"{len(reports)} database container(s) started in "
            f"{starts[len(starts) // 2]:.2f}s median, {starts[-1]:.2f}s max"
        )
    if runtime.reaped:
        terminalreporter.write_line(
            f"removed {len(runtime.reaped)} container(s) left by dead sessions"
        )
    made = sum(int(r.get("copies_made", 0)) for r in reports)
    reused = sum(int(r.get("copies_reused", 0)) for r in reports)
    if made or reused:
        terminalreporter.write_line(
            f"pristine databases: {made} copies made, {reused} handed out again untouched"
        )
    for report in reports:
        if report.get("kept"):
            terminalreporter.write_line(f"kept {report['container']}: {report['kept']}")


def instance_report(runtime: Runtime, instance: Instance) -> dict[str, Any]:
    """What a process tells the summary about its container."""
    return {
        "container": instance.name,
        "start_seconds": instance.start_seconds,
        "kept": runtime.engine.describe(instance.database) if runtime.settings.keep else "",
        "copies_made": runtime.copies_made,
        "copies_reused": runtime.copies_reused,
    }


def runtime_of(config: pytest.Config) -> Runtime:
    runtime = config.stash.get(RUNTIME, None)
    if runtime is None:
        pytest.fail(
            "pytest-dbsnap is disabled (dbsnap_disable); unset it to use its fixtures",
            pytrace=False,
        )
    return runtime


def _seed_plan(config: pytest.Config, settings: Settings) -> SeedPlan:
    rootdir = settings.rootdir
    steps: list[SeedStep] = list(expand_seed(settings.seed, rootdir))
    if settings.seed_command:
        steps.append(ShellCommand(settings.seed_command, rootdir))
    # pluggy calls the most recently registered implementation first.
    for impl in reversed(config.pluginmanager.hook.pytest_dbsnap_seed.get_hookimpls()):
        steps.append(_python_seed(impl.function, impl.argnames, config, rootdir))
    extra: list[str] = [settings.cache_key] if settings.cache_key else []
    extra += flatten_extra(config.hook.pytest_dbsnap_cache_key(config=config))
    return SeedPlan(
        steps=tuple(steps),
        watched=expand_watch(settings.watch, rootdir),
        extra=tuple(extra),
        rootdir=rootdir,
    )


def _python_seed(
    function: Any, argnames: Sequence[str], config: pytest.Config, rootdir: Path
) -> PythonSeed:
    try:
        source = inspect.getsource(function)
        where = Path(inspect.getsourcefile(function) or "?")
    except (OSError, TypeError):
        source, where = function.__qualname__, Path(function.__module__)
    with contextlib.suppress(ValueError):
        where = where.resolve().relative_to(rootdir.resolve())
    name = f"{where.as_posix()}::{function.__name__}"

    def run(database: Database) -> None:
        given = {"database": database, "config": config}
        function(**{arg: given[arg] for arg in argnames})

    return PythonSeed(name=name, fingerprint=source, run=run)
