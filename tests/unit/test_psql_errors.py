"""Placing psql's errors in the seed file: outputs as psql 17 prints them."""

from __future__ import annotations

import pytest

from pytest_dbsnap.database import Database
from pytest_dbsnap.engines.psql_errors import find_failure

INSIDE = "/tmp/dbsnap-seed-0001.sql"


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        pytest.param(
            # INSERT INTO u VALUES (2;  on line 3: psql reads on to the ';' of line 4.
            f'psql:{INSIDE}:4: ERROR:  syntax error at or near ";"\n'
            "LINE 1: INSERT INTO u VALUES (2;\n"
            "                               ^\n"
            f"psql:{INSIDE}:4: STATEMENT:  INSERT INTO u VALUES (2;\n"
            "INSERT INTO u VALUES (3);\n",
            'db/seed.sql:3: syntax error at or near ";"; fix it and run again',
            id="unclosed-parenthesis",
        ),
        pytest.param(
            f'psql:{INSIDE}:6: ERROR:  column "foo" does not exist\n'
            "LINE 3: (foo);\n"
            "         ^\n"
            f"psql:{INSIDE}:6: STATEMENT:  /* block */ INSERT INTO z\n"
            "VALUES\n"
            "(foo);\n",
            'db/seed.sql:6: column "foo" does not exist; fix it and run again',
            id="position-in-a-later-line",
        ),
        pytest.param(
            f'psql:{INSIDE}:2: ERROR:  column "nope" does not exist\n'
            "LINE 1: SELECT nope FROM w\n"
            "               ^\n"
            f"psql:{INSIDE}:2: STATEMENT:  SELECT nope FROM w\n"
            "WHERE x;\n",
            'db/seed.sql:1: column "nope" does not exist; fix it and run again',
            id="second-statement-of-a-line",
        ),
        pytest.param(
            f"psql:{INSIDE}:5: ERROR:  duplicate key value violates unique constraint "
            '"v_pkey"\n'
            "DETAIL:  Key (id)=(1) already exists.\n"
            f"psql:{INSIDE}:5: STATEMENT:  INSERT INTO v\n"
            "  VALUES (1),\n"
            "  (1);\n",
            'db/seed.sql:3: duplicate key value violates unique constraint "v_pkey" '
            "(Key (id)=(1) already exists.) (in the statement on lines 3-5); fix it and run again",
            id="runtime-error-names-the-first-line",
        ),
        pytest.param(
            f"psql:{INSIDE}:40: ERROR:  division by zero\n"
            f"psql:{INSIDE}:40: STATEMENT:  SELECT 1/0;\n",
            "db/seed.sql:40: division by zero; fix it and run again",
            id="one-line-runtime-error",
        ),
    ],
)
def test_the_error_is_placed_on_its_line(output: str, expected: str) -> None:
    failure = find_failure(output, INSIDE)
    assert failure is not None
    assert failure.describe("db/seed.sql") == expected


def test_another_files_error_is_not_ours() -> None:
    assert find_failure("psql:/other.sql:3: ERROR:  boom\n", INSIDE) is None


def test_database_never_shows_its_password() -> None:
    db = Database("127.0.0.1", 5432, "u", "s3cret", "d b", "postgres")
    assert "s3cret" not in repr(db)
    assert db.url == "postgresql://u:s3cret@127.0.0.1:5432/d%20b"
    assert "password=s3cret" in db.dsn
