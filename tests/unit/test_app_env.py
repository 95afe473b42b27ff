from __future__ import annotations

import pytest

from pytest_dbsnap.app_env import parse, render
from pytest_dbsnap.database import Database
from pytest_dbsnap.errors import ConfigError

DB = Database("10.0.0.5", 32801, "post gres", "p@ss/w:rd", "test", "postgres")


def test_every_placeholder_renders() -> None:
    variables = parse(
        [
            "POSTGRES_SERVER={host}",
            "POSTGRES_PORT={port}",
            "  POSTGRES_USER = {user}",
            "POSTGRES_PASSWORD={password}",
            "POSTGRES_DB={dbname}",
            "",
            "# a comment",
            "DATABASE_URL={url}",
            "SQLALCHEMY_URL={url:psycopg}",
            "ASYNC_URL={url:asyncpg}",
            "LITERAL={{braces}}-{port}",
        ]
    )
    assert render(variables, DB) == {
        "POSTGRES_SERVER": "10.0.0.5",
        "POSTGRES_PORT": "32801",
        "POSTGRES_USER": "post gres",
        "POSTGRES_PASSWORD": "p@ss/w:rd",
        "POSTGRES_DB": "test",
        "DATABASE_URL": "postgresql://post%20gres:p%40ss%2Fw%3Ard@10.0.0.5:32801/test",
        "SQLALCHEMY_URL": "postgresql+psycopg://post%20gres:p%40ss%2Fw%3Ard@10.0.0.5:32801/test",
        "ASYNC_URL": "postgresql+asyncpg://post%20gres:p%40ss%2Fw%3Ard@10.0.0.5:32801/test",
        "LITERAL": "{braces}-32801",
    }


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("POSTGRES_PORT", r"dbsnap_env line 1 \('POSTGRES_PORT'\) is not NAME=TEMPLATE"),
        ("9X={port}", "is not NAME=TEMPLATE"),
        ("PORT={prot}", r"dbsnap_env line 1 \(PORT\): unknown placeholder \{prot\}; use \{host\}"),
        ("URL={url:Bad-Driver}", "is not a driver name"),
        ("X={port", "line 1 \\(X\\): "),
    ],
)
def test_a_bad_line_is_one_line_naming_it(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse([line])
    assert "\n" not in str(info.value)
