"""Copied into inner test projects: what a pristine database looks like."""

# A fingerprint of everything a test could change: tables, indexes, ACLs,
# comments, schemas, functions, large objects, database settings, the
# sequence's state and the unlogged table's rows.
FINGERPRINT = """
SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
    SELECT format('%s:%s:%s:%s', c.oid::regclass, c.relkind, c.relacl,
                  obj_description(c.oid)) AS x
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    UNION ALL SELECT 'ns:' || nspname FROM pg_namespace
    UNION ALL SELECT 'proc:' || p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace NOT IN ('pg_catalog'::regnamespace,
                                     'information_schema'::regnamespace)
    UNION ALL SELECT 'lo:' || count(*) FROM pg_largeobject_metadata
    UNION ALL SELECT 'dbset:' || count(*) FROM pg_db_role_setting
        WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
    UNION ALL SELECT 'seq:' || last_value || is_called FROM ticket
    UNION ALL SELECT 'cache:' || count(*) FROM cache
) s
"""


def fingerprint(conn):
    return conn.execute(FINGERPRINT).fetchone()[0]


def assert_pristine(conn, pristine=None):
    rows = conn.execute(
        "SELECT count(*), sum(balance), md5(string_agg(owner, ',' ORDER BY id)) FROM account"
    ).fetchone()
    assert rows[:2] == (2000, 20010000)
    if pristine is not None:
        assert fingerprint(conn) == pristine
