"""A failed statement of a seed file, placed in it: what every engine's client reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SqlFailure:
    """A failed statement of a seed file, as the engine's client reported it."""

    message: str
    details: tuple[str, ...]
    line: int
    """The line of the error: the server's position, else the statement's first line."""
    first: int
    last: int
    positioned: bool

    def describe(self, display: str) -> str:
        """One line naming ``display`` (the file as the user wrote it), the line and the error."""
        extra = f" ({'; '.join(self.details)})" if self.details else ""
        span = ""
        if not self.positioned and self.last > self.first:
            span = f" (in the statement on lines {self.first}-{self.last})"
        return f"{display}:{self.line}: {self.message}{extra}{span}; fix it and run again"


def unplaced(display: str, tool: str, exit_code: int, output: str, image: str) -> str:
    """What to say when the client's output names no failed statement."""
    if exit_code in (126, 127):
        return (
            f"{display}: {tool} is missing from the image; use an image with it (the official "
            f"{image} images have it)"
        )
    tail = "\n".join(output.splitlines()[-10:]) or "(no output)"
    return f"{display}: {tool} failed with exit code {exit_code}; its output:\n{tail}"
