"""Errors raised by pytest-dbsnap.

Every error is a :class:`DbsnapError` whose message is one line that says what
is wrong, where, and what to do next. The pytest face turns them into usage
errors or test errors without a traceback.
"""

from __future__ import annotations


class DbsnapError(Exception):
    """Base class of every error pytest-dbsnap raises on purpose."""


class ConfigError(DbsnapError):
    """A setting has a value the plugin cannot use."""


class DockerUnavailableError(DbsnapError):
    """The Docker daemon cannot be reached or refuses us."""


class ImageError(DbsnapError):
    """The base image is missing, cannot be pulled, or is not what we need."""


class ContainerError(DbsnapError):
    """A container exited, or did not become ready in time."""


class SeedError(DbsnapError):
    """Seeding the database failed; nothing was tagged."""


class LockTimeoutError(DbsnapError):
    """Another process held the build lock for too long."""


class RegistryError(DbsnapError):
    """A registry refused a push or pull, or could not be reached."""


class SnapshotNotFound(DbsnapError):
    """No snapshot with the asked key where we looked (exit status 3 of ``dbsnap``)."""
