"""Where in a seed file the statement is that the ``mariadb`` client failed on.

The client, reading a file on its standard input, prints the failed statement
between two lines of dashes, then::

    ERROR 1064 (42000) at line 3: You have an error in your SQL syntax; check the
    manual ... for the right syntax to use near '' at line 3

The first ``3`` is the line where the statement began; a syntax error's own
``at line 3`` counts within the statement, so the error is on line 5 of the
file. An error with no position (a duplicate key) is placed on the
statement's first line, with its range.
"""

from __future__ import annotations

import re

from .sql_failure import SqlFailure

_ERROR = re.compile(
    r"^ERROR (?P<code>\d+) \((?P<state>\w{5})\) at line (?P<line>\d+)(?: in file: '[^']*')?:"
    r" (?P<text>.*)$"
)
_SYNTAX = re.compile(
    r"^You have an error in your SQL syntax; check the manual .* to use near "
    r"(?P<near>'.*') at line (?P<n>\d+)$"
)
_RULE = "--------------"


def find_failure(output: str) -> SqlFailure | None:
    """The failed statement, from the client's output."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        match = _ERROR.match(line)
        if match is None:
            continue
        first = int(match["line"])
        text = " ".join([match["text"], *lines[i + 1 :]]).strip()
        statement = _echoed(lines[:i])
        last = first + max(len(statement), 1) - 1
        syntax = _SYNTAX.match(text)
        if syntax is not None:
            near = syntax["near"]
            message = (
                "syntax error at the end of the statement"
                if near == "''"
                else f"syntax error near {near}"
            )
            at = first + int(syntax["n"]) - 1
            return SqlFailure(message, (), at, first, last, positioned=True)
        return SqlFailure(text, (), first, first, last, positioned=False)
    return None


def _echoed(before: list[str]) -> list[str]:
    """The statement the client printed between two rules, just before its error."""
    rules = [i for i, line in enumerate(before) if line == _RULE]
    if len(rules) < 2:
        return []
    return before[rules[-2] + 1 : rules[-1]]
