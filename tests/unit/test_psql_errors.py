from __future__ import annotations

from pytest_dbsnap.engines.postgres import Database, PostgresEngine


def test_runtime_error_names_file_and_line() -> None:
    output = (
        "psql:/tmp/dbsnap-seed-0001.sql:40: ERROR:  duplicate key value violates unique "
        'constraint "t_pkey"\nDETAIL:  Key (id)=(1) already exists.\n'
    )
    message = PostgresEngine._describe_sql_error(
        output, "/tmp/dbsnap-seed-0001.sql", "db/seed.sql", 3
    )
    assert message.startswith(
        'db/seed.sql:40: duplicate key value violates unique constraint "t_pkey" '
        "(Key (id)=(1) already exists.)"
    )


def test_database_never_shows_its_password() -> None:
    db = Database("127.0.0.1", 5432, "u", "s3cret", "d b")
    assert "s3cret" not in repr(db)
    assert db.url == "postgresql://u:s3cret@127.0.0.1:5432/d%20b"
    assert "password=s3cret" in db.dsn
