"""Where in a seed file the statement is that psql failed on, from psql's own output.

psql, run with ``--echo-errors``, prints::

    psql:/tmp/seed.sql:6: ERROR:  column "foo" does not exist
    LINE 3: (foo);
             ^
    psql:/tmp/seed.sql:6: STATEMENT:  INSERT INTO z
    VALUES
    (foo);

The ``6`` is the line where the statement ended (psql reads on until the
``;`` that ends it, which a syntax error may put lines later); the failed
statement has 3 lines, so it began on line 4; the server placed the error on
its third line (``LINE 3``): line 6 of the file. An error with no position (a
constraint violated at run time) is placed on the statement's first line.
"""

from __future__ import annotations

import re

from .sql_failure import SqlFailure

_PREFIX = re.compile(
    r"^psql:(?P<path>[^:]+):(?P<line>\d+): (?P<kind>ERROR|FATAL|STATEMENT):\s+(?P<text>.*)$"
)
_POSITION = re.compile(r"^LINE (?P<n>\d+): ")


def find_failure(output: str, path: str) -> SqlFailure | None:
    """The statement of ``path`` (the file's name inside the container) that failed."""
    lines = output.splitlines()
    failure: tuple[int, str] | None = None
    position = 0
    details: list[str] = []
    statement: list[str] = []
    for i, line in enumerate(lines):
        match = _PREFIX.match(line)
        if match is None or match["path"] != path:
            continue
        if match["kind"] in ("ERROR", "FATAL") and failure is None:
            failure = int(match["line"]), match["text"].strip()
            for after in lines[i + 1 :]:
                if _PREFIX.match(after):
                    break
                if after.startswith(("DETAIL:", "HINT:")):
                    details.append(after.split(":", 1)[1].strip())
                elif (found := _POSITION.match(after)) and not position:
                    position = int(found["n"])
        elif match["kind"] == "STATEMENT" and failure is not None and not statement:
            statement = [match["text"]]
            for after in lines[i + 1 :]:
                if after.startswith("psql:"):
                    break
                statement.append(after)
    if failure is None:
        return None
    last, message = failure
    first = last - max(len(statement), 1) + 1
    at = first + position - 1 if position else first
    return SqlFailure(message, tuple(details), at, first, last, positioned=bool(position))
