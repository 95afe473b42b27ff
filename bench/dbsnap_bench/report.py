"""The results as markdown, a PNG chart and JSON; the README's latest figures."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .mechanisms import MECHANISMS, SeedResult
from .ratios import Ratio
from .ratios import table as ratio_table
from .seeds import SEEDS
from .stats import Series, X, ratio, seconds, times
from .suite import VARIANTS, SuiteResult

POOL_MEDIAN_TARGET = 0.002
POOL_P95_TARGET = 0.020
RESEED_TARGET = 50.0

README_START = "<!-- bench:latest:start -->"
README_END = "<!-- bench:latest:end -->"

CHART_LABELS = {
    "rollback": "rollback\n(lower bound)",
    "pool": "pool\nhandout",
    "pool_instant": "pool handout\n(instant tests)",
    "inline_clone": "clone\nin line",
    "container_pooled": "container,\npooled",
    "container": "container,\nnot pooled",
    "reseed": "TRUNCATE +\nre-seed",
}


@dataclass
class Report:
    command: str
    quick: bool
    started: str
    total_seconds: float = math.nan
    machine: dict[str, Any] = field(default_factory=dict)
    seeds: dict[str, SeedResult] = field(default_factory=dict)
    suite: SuiteResult | None = None
    ratios: list[Ratio] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "quick": self.quick,
            "started": self.started,
            "total_seconds": self.total_seconds,
            "machine": self.machine,
            "seeds": {k: v.as_dict() for k, v in self.seeds.items()},
            "suite": self.suite.as_dict() if self.suite else None,
            "ratios": [r.as_dict() for r in self.ratios],
            "notes": self.notes,
        }


# Markdown -------------------------------------------------------------------


def _speedup(result: SeedResult, key: str) -> float:
    return ratio(result.series["reseed"].median, result.series[key].median)


def _seed_line(result: SeedResult) -> str:
    spec = SEEDS[result.key]
    return (
        f"**{spec.key}** ({spec.title}, `{spec.display()}`): {result.total_rows:,} rows in "
        f"{len(result.rows)} tables with {result.indexes} indexes (keys included), "
        f"{result.size_bytes / 1e6:.1f} MB database"
    )


def mechanism_table(report: Report) -> list[str]:
    seeds = list(report.seeds.values())
    head = ["mechanism (dirtied → pristine)"]
    for r in seeds:
        head += [f"{r.key}: median", f"{r.key}: p95", f"{r.key}: vs TRUNCATE + re-seed"]
    head.append("samples")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label in MECHANISMS.items():
        if not any(key in r.series for r in seeds):
            continue
        row = [label]
        samples = set()
        for r in seeds:
            series = r.series.get(key, Series())
            samples.add(str(series.n))
            factor = f"1{X} (baseline)" if key == "reseed" else f"{times(_speedup(r, key))} faster"
            if not series.n:
                factor = "n/a"
            row += [seconds(series.median), seconds(series.p95), factor]
        row.append("/".join(sorted(samples)))
        lines.append("| " + " | ".join(row) + " |")
    return lines


def targets_table(report: Report) -> list[str]:
    seeds = list(report.seeds.values())
    if not seeds or not all("pool" in r.series for r in seeds):
        return []
    head = ["target (2 cores)", *(r.key for r in seeds), "met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def row(label: str, values: Sequence[float], shown: Sequence[str], ok: bool) -> None:
        lines.append("| " + " | ".join([label, *shown, "yes" if ok else "**no**"]) + " |")

    medians = [r.series["pool"].median for r in seeds]
    row(
        "pool handout median < 2 ms",
        medians,
        [seconds(v) for v in medians],
        all(v < POOL_MEDIAN_TARGET for v in medians),
    )
    p95s = [r.series["pool"].p95 for r in seeds]
    row(
        "pool handout p95 < 20 ms",
        p95s,
        [seconds(v) for v in p95s],
        all(v < POOL_P95_TARGET for v in p95s),
    )
    if "large" in report.seeds:
        factors = [_speedup(r, "pool") for r in seeds]
        large = _speedup(report.seeds["large"], "pool")
        row(
            f"pool handout ≥ 50{X} faster than TRUNCATE + re-seed (larger seed)",
            factors,
            [times(f) for f in factors],
            large >= RESEED_TARGET,
        )
    return lines


def mechanism_details(report: Report) -> list[str]:
    lines: list[str] = []
    for r in report.seeds.values():
        parts = r.parts
        snap = r.snapshot
        if snap.get("built"):
            t = snap.get("timings", {})
            how = (
                f"built in this run in {snap['seconds']:.1f} s (start {t.get('start', 0):.1f} s, "
                f"seeding {t.get('seed', 0):.1f} s, commit {t.get('commit', 0):.1f} s)"
            )
        else:
            how = "found (built by an earlier run; nothing seeded)"
        lines.append(f"- **{r.key}**: snapshot `{snap.get('tag', '?')}` {how}.")
        if "test.writes" in parts:
            lines.append(
                f"  A simulated test's writes (connect, write, commit) took "
                f"{seconds(parts['test.writes'].median)} median: with *instant tests* the pool "
                "has that long to prepare the next copy."
            )
        if "pool" in r.series:
            lines.append(
                f"  Pool of {report.machine.get('pool_size', 2)}: simulated tests of "
                f"{r.test_seconds:g} s (commit the writes, then sleep; at least 1.5 times a "
                "clone + drop here); first handout of the session "
                f"{seconds(parts['pool.first'].median)} (waits for the first copy); "
                f"{r.pool.get('copies_made', 0)} copies made, "
                f"{r.pool.get('copies_reused', 0)} reused (a written copy is never reused)."
            )
        if "inline_clone" in r.series:
            lines.append(
                f"  Clone in line: CREATE DATABASE {seconds(parts['inline_clone.create'].median)}"
                f" + DROP DATABASE {seconds(parts['inline_clone.drop'].median)} (medians)."
            )
        if "container" in r.series:
            lines.append(
                f"  Container not pooled: remove {seconds(parts['container.remove'].median)}"
                f" + start until a query answers {seconds(parts['container.start'].median)}"
                f" (medians); pooled: tests of {r.container_test_seconds:g} s, first handout "
                f"{seconds(parts['container_pooled.first'].median)}."
            )
        for anomaly in r.anomalies:
            lines.append(f"  **Anomaly**: {anomaly}")
    return lines


def suite_table(suite: SuiteResult) -> list[str]:
    workers = sorted({r.workers for r in suite.runs if r.variant in ("dbsnap", "fresh")})
    serial = suite.series("serial", 1)
    head = [
        "run",
        "workers",
        "wall time (median)",
        "runs",
        "vs fresh container per worker (same workers)",
        "vs serial + reset script",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def row(variant: str, n: int) -> None:
        series = suite.series(variant, n)
        if not series.n:
            return
        fresh = suite.series("fresh", n)
        vs_fresh = (
            f"1{X} (baseline)" if variant == "fresh" else times(ratio(fresh.median, series.median))
        )
        vs_serial = (
            f"1{X} (baseline)"
            if variant == "serial"
            else times(ratio(serial.median, series.median))
        )
        if variant == "serial":
            vs_fresh = "—"
        lines.append(
            f"| {VARIANTS[variant]} | {n} | {seconds(series.median)} | {series.n} | "
            f"{vs_fresh} | {vs_serial} |"
        )

    for n in workers:
        row("dbsnap", n)
    for n in workers:
        row("dbsnap_cold", n)
    for n in workers:
        row("fresh", n)
    row("serial", 1)
    return lines


def suite_commands(suite: SuiteResult) -> list[str]:
    seen: list[str] = []
    for run in suite.runs:
        line = f"{run.command}    # {VARIANTS[run.variant]}"
        if line not in seen:
            seen.append(line)
    return ["```sh", "cd examples/shop", *seen, "```"]


def summary(report: Report) -> list[str]:
    """The tables the README shows."""
    lines: list[str] = []
    if report.seeds:
        lines += ["From a dirtied database to a pristine one:", ""]
        lines += [*mechanism_table(report), ""]
        targets = targets_table(report)
        if targets:
            lines += [*targets, ""]
    if report.suite is not None:
        lines += [f"Wall time of the example suite ({_suite_what(report.suite)}):", ""]
        lines += [*suite_table(report.suite), ""]
    if report.ratios:
        lines += ["Side by side (each figure and its baseline measured in this run):", ""]
        lines += [*ratio_table(report.ratios), ""]
    return lines


def _suite_what(suite: SuiteResult) -> str:
    passed = suite.runs[0].passed if suite.runs else 0
    where = " ".join(suite.selection) if suite.selection else "the whole suite"
    return f"`examples/shop`, {where}, {passed} tests"


def markdown(report: Report) -> str:
    m = report.machine
    lines = ["# pytest-dbsnap benchmark: latest run", ""]
    if report.quick:
        lines += [
            "> **Quick run** (`--quick`): few samples and part of the suite; "
            "for development, not for quoting.",
            "",
        ]
    lines += [
        f"- Command: `{report.command}` (from the repository root), pytest-dbsnap at "
        f"{m.get('git')}",
        f"- Started {report.started}, total run time {report.total_seconds / 60:.1f} min",
        f"- Machine: {m.get('cpus')} CPUs, {m.get('memory_gb', 0):.0f} GB RAM, "
        f"Docker {m.get('docker')}, PostgreSQL {m.get('postgres')} (`{m.get('image')}`), "
        f"Python {m.get('python')}, psycopg {m.get('psycopg')}",
        f"- Other containers running on the Docker daemon: {m.get('others_start')} at the "
        f"start, {m.get('others_end')} at the end; 1-minute load average "
        f"{m.get('load_start', float('nan')):.1f} at the start, "
        f"{m.get('load_end', float('nan')):.1f} at the end (a shared machine: expect noise)",
        "- Every ratio compares two figures measured side by side in this run.",
        "",
    ]
    for note in report.notes:
        lines.append(f"- {note}")
    if report.notes:
        lines.append("")
    if report.seeds:
        lines += ["## From a dirtied database to a pristine one", ""]
        lines += [f"- {_seed_line(r)}" for r in report.seeds.values()]
        lines += [
            "",
            "Each sample starts from a database a simulated test has written to and "
            "committed (a few thousand rows deleted, a few thousand updated, one inserted), "
            "and times only the step that gives the next test a pristine database. Every "
            "later write checks that it found the seeded state. Speed-up = median of "
            "TRUNCATE + re-seed ÷ median of the mechanism, on the same seed.",
            "",
            *mechanism_table(report),
            "",
        ]
        targets = targets_table(report)
        if targets:
            lines += ["### Targets", "", *targets, ""]
        lines += ["### How each figure was taken", "", *_methods(), "", "### Details", ""]
        lines += [*mechanism_details(report), ""]
    if report.suite is not None:
        suite = report.suite
        lines += [
            "## Wall time of the example suite",
            "",
            f"{_suite_what(suite)}. The example was copied when the suite runs began, so "
            f"that every run has the same tests ({suite.tests}). Each figure is the median "
            "of separate `pytest` processes (interleaved), timed around `subprocess.run`; "
            "speed-up = baseline time ÷ this time (above 1: faster than the baseline). "
            "The cold run rebuilds the snapshot first (`DBSNAP_REBUILD=1`).",
            "",
            *suite_table(suite),
            "",
            "Both baselines run PostgreSQL with the same durability settings as "
            "pytest-dbsnap (`fsync`, `synchronous_commit`, `full_page_writes` off) and "
            "provide the fixtures the suite uses (`dbsnap_worker`, `dbsnap_worker_conn`, "
            "`dbsnap_db`, `dbsnap_dsn`, `dbsnap_conn`). The fresh-container baseline "
            "makes `dbsnap_db` pristine with the reset script (after each test that uses it, "
            "and before when a test sharing the database ran since); the serial one resets "
            "after every test. The reset is TRUNCATE + re-seed, or the whole seed again "
            "after a test that changed the schema. See `bench/baselines/`.",
            "",
            *suite_commands(suite),
            "",
        ]
    if report.ratios:
        lines += [
            "## Side by side",
            "",
            "Each figure beside the baseline measured in the same run, rounds interleaved; "
            "the ratio is of the medians (below 1: cheaper than the baseline).",
            "",
            *ratio_table(report.ratios),
            "",
        ]
    lines += ["![chart](latest.png)", ""]
    return "\n".join(lines)


def _methods() -> list[str]:
    return [
        "- *Transaction rollback*: `BEGIN`, the writes, then `ROLLBACK` timed. A lower "
        "bound only: it cannot undo what other connections commit.",
        "- *Pool handout*: `Pool.acquire()` of pytest-dbsnap's clone pool, timed, while the "
        "simulated test (writes + sleep) runs between handouts and the pool's thread makes "
        "the next copies; *instant tests*: no sleep, so each handout waits for a clone.",
        "- *Clone made in line*: `CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY` of the "
        "next copy plus `DROP DATABASE … WITH (FORCE)` of the dirtied one.",
        "- *Container per test, pooled*: `Pool.acquire()` of the container pool, with "
        "simulated tests of 1 s; *not pooled*: remove the dirtied container, then "
        "`start_instance` until a query answers.",
        "- *TRUNCATE + re-seed*: one connection ends the others, `TRUNCATE` every table "
        "`RESTART IDENTITY CASCADE` and runs the seed's data files again (the schema stays).",
    ]


# README ---------------------------------------------------------------------


def update_readme(readme: Path, report: Report) -> bool:
    """Replace the figures between the README's markers; False when it has none."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return False
    m = report.machine
    body = [
        README_START,
        "",
        f"Run of {report.started} ({report.total_seconds / 60:.1f} min, {m.get('cpus')} CPUs, "
        f"PostgreSQL {m.get('postgres')}); full results in "
        "[results/latest.md](results/latest.md).",
        "",
        *summary(report),
        "![chart](results/latest.png)",
        "",
        README_END,
    ]
    pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.S)
    _write(readme, pattern.sub(lambda _: "\n".join(body), text))
    return True


# Files ----------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write(report: Report, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    md, js, png = out / "latest.md", out / "latest.json", out / "latest.png"
    _write(md, markdown(report))
    _write(js, json.dumps(report.as_dict(), indent=2, default=str) + "\n")
    chart(report, png)
    return [md, png, js]


def chart(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = int(bool(report.seeds)) + int(report.suite is not None)
    if not panels:
        return
    fig, axes = plt.subplots(
        1, panels, figsize=(8 * panels, 5.6), squeeze=False, width_ratios=[3, 2][:panels]
    )
    index = 0
    if report.seeds:
        _mechanism_chart(axes[0][index], report)
        index += 1
    if report.suite is not None:
        _suite_chart(axes[0][index], report.suite)
    title = "pytest-dbsnap benchmark" + (" (quick run)" if report.quick else "")
    fig.suptitle(f"{title}: {report.started}, {report.machine.get('cpus')} CPUs")
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    tmp.replace(path)


def _mechanism_chart(ax: Any, report: Report) -> None:
    seeds = list(report.seeds.values())
    keys = [k for k in MECHANISMS if any(k in r.series for r in seeds)]
    width = 0.8 / len(seeds)
    colors = ["#4c72b0", "#dd8452", "#55a868"]
    for i, r in enumerate(seeds):
        xs = [k_i + (i - (len(seeds) - 1) / 2) * width for k_i in range(len(keys))]
        medians = [r.series[k].median * 1000 if k in r.series else math.nan for k in keys]
        upper = [
            max(0.0, (r.series[k].p95 - r.series[k].median) * 1000) if k in r.series else 0
            for k in keys
        ]
        ax.bar(
            xs,
            medians,
            width,
            yerr=[[0] * len(keys), upper],
            capsize=3,
            label=f"{r.key}: {r.total_rows:,} rows",
            color=colors[i % len(colors)],
        )
        for x, k, v, up in zip(xs, keys, medians, upper, strict=True):
            if k in r.series and not math.isnan(v):
                label = f"1{X}" if k == "reseed" else times(_speedup(r, k))
                v += up  # above the whisker
                ax.annotate(
                    label,
                    (x, v),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    rotation=90,
                    xytext=(0, 3),
                    textcoords="offset points",
                )
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_plain())
    ax.set_xticks(range(len(keys)), [CHART_LABELS[k] for k in keys], fontsize=8)
    ax.set_ylabel("median time, ms (log); whisker: p95")
    ax.set_title("Dirtied → pristine (label: speed-up vs TRUNCATE + re-seed)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", which="major", alpha=0.3)


def _suite_chart(ax: Any, suite: SuiteResult) -> None:
    workers = sorted({r.workers for r in suite.runs})
    variants = [
        v
        for v in ("dbsnap", "dbsnap_cold", "fresh", "serial")
        if any(r.variant == v for r in suite.runs)
    ]
    names = {
        "dbsnap": "pytest-dbsnap",
        "dbsnap_cold": "pytest-dbsnap, cold",
        "fresh": "fresh container per worker",
        "serial": "serial + reset script",
    }
    colors = {
        "dbsnap": "#4c72b0",
        "dbsnap_cold": "#8da0cb",
        "fresh": "#dd8452",
        "serial": "#c44e52",
    }
    width = 0.8 / len(variants)
    for i, variant in enumerate(variants):
        xs, ys = [], []
        for w_i, n in enumerate(workers):
            series = suite.series(variant, n)
            if series.n:
                xs.append(w_i + (i - (len(variants) - 1) / 2) * width)
                ys.append(series.median)
        ax.bar(xs, ys, width, label=names[variant], color=colors[variant])
        for x, y in zip(xs, ys, strict=True):
            ax.annotate(
                f"{y:.1f}s",
                (x, y),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
            )
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_plain())
    ax.yaxis.set_minor_formatter(_plain())
    ax.set_xticks(range(len(workers)), [f"{n} worker{'s' if n > 1 else ''}" for n in workers])
    ax.set_ylabel("wall time, s (log)")
    ax.set_title("Example suite wall time (median)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", which="major", alpha=0.3)


def _plain() -> Any:
    """Tick labels as plain numbers (0.01, 1, 100) instead of powers of ten."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{value:g}")
