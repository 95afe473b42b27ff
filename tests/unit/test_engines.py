"""The engine of an image, told from what it runs; what MariaDB's client says of a failure."""

from __future__ import annotations

import pytest

from pytest_dbsnap.database import Database
from pytest_dbsnap.docker import ImageInfo
from pytest_dbsnap.engines import choose, guess, named
from pytest_dbsnap.engines.mariadb import native_password_hash
from pytest_dbsnap.engines.mariadb_errors import find_failure
from pytest_dbsnap.errors import ImageError

POSTGRES = ImageInfo(
    "sha256:1",
    env=("PG_MAJOR=17", "PGDATA=/var/lib/postgresql/data"),
    entrypoint=("docker-entrypoint.sh",),
    command=("postgres",),
    volumes=("/var/lib/postgresql/data",),
)
POSTGIS = ImageInfo("sha256:2", env=("PG_VERSION=16.4",), command=("postgres",))
MARIADB = ImageInfo(
    "sha256:3",
    env=("MARIADB_VERSION=1:11.8.8",),
    entrypoint=("docker-entrypoint.sh",),
    command=("mariadbd",),
    volumes=("/var/lib/mysql",),
)
MYSQL = ImageInfo(
    "sha256:4",
    env=("MYSQL_VERSION=8.4.3",),
    entrypoint=("docker-entrypoint.sh",),
    command=("mysqld",),
)
NOTHING = ImageInfo("sha256:5", command=("sleep", "infinity"))


@pytest.mark.parametrize(
    ("image", "engine"),
    [(POSTGRES, "postgres"), (POSTGIS, "postgres"), (MARIADB, "mariadb")],
    ids=["postgres", "postgis", "mariadb"],
)
def test_the_engine_is_told_by_the_image(image: ImageInfo, engine: str) -> None:
    assert choose(image, "x:1", "auto").name == engine
    assert choose(image, "x:1", engine).name == engine


def test_a_setting_the_image_contradicts_is_an_error_naming_it() -> None:
    with pytest.raises(ImageError) as raised:
        choose(MARIADB, "mariadb:11.8", "postgres")
    assert str(raised.value) == (
        "dbsnap_engine=postgres but image 'mariadb:11.8' does not look like PostgreSQL "
        "(command: docker-entrypoint.sh mariadbd); set dbsnap_engine to the engine the image "
        "runs, or dbsnap_image to an image of that engine"
    )


def test_mysql_is_recognized_and_refused() -> None:
    with pytest.raises(ImageError, match=r"runs MySQL, which pytest-dbsnap does not support yet"):
        choose(MYSQL, "mysql:8.4", "auto")


def test_an_image_of_no_engine_says_which_setting_tells() -> None:
    with pytest.raises(ImageError, match=r"set dbsnap_engine to postgres or mariadb"):
        choose(NOTHING, "busybox", "auto")


def test_a_volume_over_the_moved_data_folder_is_refused() -> None:
    image = ImageInfo("sha256:6", env=("MARIADB_VERSION=11",), volumes=("/var/lib",))
    with pytest.raises(ImageError, match=r"declares VOLUME /var/lib, which holds"):
        choose(image, "odd:1", "auto")


def test_without_docker_the_engine_is_guessed_from_the_setting_or_the_name() -> None:
    assert guess("auto", "registry.example.com/mariadb:11.8@sha256:0").name == "mariadb"
    assert guess("auto", "postgres:17").name == "postgres"
    assert guess("mariadb", "company/db:1").name == "mariadb"
    with pytest.raises(ImageError, match="no engine 'oracle'"):
        named("oracle")


def test_a_database_speaks_its_engines_language() -> None:
    pg = Database("h", 5432, "u", "p w", "d", "postgres")
    maria = Database("h", 3306, "root", "p w", "d", "mariadb")
    assert pg.url == "postgresql://u:p%20w@h:5432/d"
    assert maria.url == "mysql://root:p%20w@h:3306/d"
    assert maria.url_for("pymysql") == "mysql+pymysql://root:p%20w@h:3306/d"
    assert maria.dsn == maria.url
    assert maria.environment()["MYSQL_TCP_PORT"] == "3306"
    assert pg.environment()["PGPORT"] == "5432"
    assert maria.describe() == "mariadb -h h -P 3306 -u root --password='p w' d"


def test_mariadb_password_hash_is_what_password_gives() -> None:
    # SELECT PASSWORD('password') on any MariaDB.
    assert native_password_hash("password") == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"


# What the mariadb client printed for a file whose statement on lines 3-5 has a
# syntax error on its third line, and for a duplicate key on lines 4-5.
SYNTAX = """--------------
INSERT INTO t
VALUES (1),
(2
--------------

ERROR 1064 (42000) at line 3: You have an error in your SQL syntax; check the manual \
that corresponds to your MariaDB server version for the right syntax to use near '' at line 3
"""
DUPLICATE = """--------------
INSERT INTO u
 VALUES (1)
--------------

ERROR 1062 (23000) at line 4: Duplicate entry '1' for key 'PRIMARY'
"""


def test_a_mariadb_syntax_error_is_placed_by_the_servers_line_in_the_statement() -> None:
    failure = find_failure(SYNTAX)
    assert failure is not None
    assert failure.describe("db/seed.sql") == (
        "db/seed.sql:5: syntax error at the end of the statement; fix it and run again"
    )


def test_a_mariadb_runtime_error_names_the_statements_lines() -> None:
    failure = find_failure(DUPLICATE)
    assert failure is not None
    assert failure.describe("db/seed.sql") == (
        "db/seed.sql:4: Duplicate entry '1' for key 'PRIMARY' (in the statement on lines 4-5); "
        "fix it and run again"
    )


def test_a_mariadb_before_10_9_is_refused_naming_the_maintained_ones() -> None:
    old = ImageInfo("sha256:7", env=("MARIADB_VERSION=1:10.6.21+maria~ubu2004",))
    with pytest.raises(ImageError, match=r"runs MariaDB 10\.6; pytest-dbsnap needs 10\.9 or later"):
        choose(old, "mariadb:10.6", "auto")
    assert choose(MARIADB, "mariadb:11.8", "auto").name == "mariadb"
