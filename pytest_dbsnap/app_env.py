"""``dbsnap_env``: the variables an application reads its database address from.

Each line is ``NAME=TEMPLATE``; a template takes ``{host}``, ``{port}``,
``{user}``, ``{password}``, ``{dbname}``, ``{url}`` and ``{url:DRIVER}`` (the
URL with a SQLAlchemy driver, ``{url:psycopg}`` for ``postgresql+psycopg://``).
Knows no pytest and no Docker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .database import Database
from .engines import CHOICES
from .errors import ConfigError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PLACEHOLDERS = ("host", "port", "user", "password", "dbname", "url", "url:DRIVER")
# What the checks render with, before any database exists.
_SAMPLE = Database("127.0.0.1", 1, "user", "sample-password", "test", CHOICES[1])


@dataclass(frozen=True)
class EnvVar:
    """One ``NAME=TEMPLATE`` line of ``dbsnap_env``."""

    name: str
    template: str
    line: int


class _Url:
    """``{url}`` and ``{url:asyncpg}``: the format spec is the driver."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def __format__(self, driver: str) -> str:
        return self._database.url_for(driver)


def parse(lines: Sequence[str]) -> tuple[EnvVar, ...]:
    """The variables of ``dbsnap_env``; a :class:`ConfigError` names a bad line."""
    found: list[EnvVar] = []
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        name, equals, template = text.partition("=")
        name = name.strip()
        if not equals or not _NAME.fullmatch(name):
            raise ConfigError(
                f"dbsnap_env line {number} ({text!r}) is not NAME=TEMPLATE: write one variable "
                "per line, such as POSTGRES_PORT={port}"
            )
        var = EnvVar(name, template.strip(), number)
        render_one(var, _SAMPLE)  # a bad placeholder fails now, not at the first test
        found.append(var)
    return tuple(found)


def render_one(var: EnvVar, database: Database) -> str:
    values: Mapping[str, object] = {
        "host": database.host,
        "port": database.port,
        "user": database.user,
        "password": database.password,
        "dbname": database.dbname,
        "url": _Url(database),
    }
    try:
        return var.template.format_map(values)
    except KeyError as exc:
        problem = f"unknown placeholder {{{exc.args[0]}}}"
    except (ValueError, IndexError, AttributeError) as exc:
        problem = str(exc)
    shown = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
    raise ConfigError(
        f"dbsnap_env line {var.line} ({var.name}): {problem}; use {shown} (double braces for a "
        "literal brace)"
    )


def render(variables: Sequence[EnvVar], database: Database) -> dict[str, str]:
    """``NAME: value`` of every variable, pointing at ``database``."""
    return {var.name: render_one(var, database) for var in variables}
