"""Copied into inner test projects as conftest.py."""

import pytest
from checks import fingerprint


@pytest.fixture(scope="session")
def pristine(dbsnap_worker):
    """The fingerprint of the worker's database, which no test here writes to."""
    with dbsnap_worker.connect() as conn:
        return fingerprint(conn)
