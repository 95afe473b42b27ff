"""Move snapshots between Docker hosts: a registry, by key, or a tar file. Knows no pytest.

In a registry a snapshot is ``<repository>:<key12>``; on the Docker host it is
always ``dbsnap/<project>:<key12>``. The registry's tag is added for a push and
removed after a pull, so the rest of pytest-dbsnap only ever sees the local one.
"""

from __future__ import annotations

import contextlib
import gzip
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .docker import LABEL_PREFIX
from .errors import ImageError, RegistryError
from .seed import SNAPSHOT_FORMAT

if TYPE_CHECKING:
    from .docker import Docker, ImageInfo, Progress


def remote_ref(registry: str, key: str) -> str:
    """Where the snapshot of ``key`` lives in the registry repository ``registry``."""
    return f"{registry}:{key[:12]}"


def pull_snapshot(
    docker: Docker, registry: str, key: str, tag: str, progress: Progress
) -> ImageInfo:
    """Pull the snapshot of ``key`` (the whole key, or 12 hex digits or more of it), tag it ``tag``.

    :class:`~pytest_dbsnap.errors.SnapshotNotFound` when the registry does not
    have it, :class:`RegistryError` when the registry cannot be used or holds
    something else under that tag.
    """
    ref = remote_ref(registry, key)
    try:
        docker.pull(ref, progress)
        # Another session pulling the same reference may have untagged it already.
        image = docker.find_image(ref) or next(iter(snapshots_of(docker, key)), None)
        if image is None:
            raise RegistryError(f"pulled {ref}, but no such image is here; try again")
        labels = image.labels
        found = labels.get(f"{LABEL_PREFIX}key", "")
        if not found.startswith(key) or labels.get(f"{LABEL_PREFIX}format") != SNAPSHOT_FORMAT:
            raise RegistryError(
                f"{ref} is not the snapshot of key {key[:12]} (its key: {found[:12] or 'none'}, "
                f"format {labels.get(f'{LABEL_PREFIX}format', 'none')}); remove that tag from "
                "the registry or push the right snapshot with `dbsnap push`"
            )
        docker.tag(image, tag)
    finally:
        with contextlib.suppress(Exception):
            docker.remove_image(ref)  # only the registry's tag when the local one is on it
    return image


def snapshots_of(docker: Docker, key: str) -> list[ImageInfo]:
    """Snapshot images on this host whose key is ``key`` (in this snapshot format)."""
    found = docker.images({f"{LABEL_PREFIX}kind": "snapshot", f"{LABEL_PREFIX}key": key})
    return [i for i in found if i.labels.get(f"{LABEL_PREFIX}format") == SNAPSHOT_FORMAT]


def push_snapshot(
    docker: Docker, image: ImageInfo, registry: str, key: str, progress: Progress
) -> str:
    """Push ``image``, the snapshot of ``key``, to ``registry``; its remote reference."""
    ref = remote_ref(registry, key)
    docker.tag(image, ref)
    try:
        docker.push(ref, progress)
    finally:
        docker.remove_image(ref)
    return ref


def save_snapshot(
    docker: Docker, image: ImageInfo, tag: str, path: Path, progress: Progress
) -> None:
    """Write ``image`` (tagged ``tag``) and its base to ``path``; gzipped for ``.gz``, ``.tgz``.

    The base costs only its configuration (its layers are the snapshot's lower
    layers) and lets a host without a registry compute the same key. The file
    appears only once complete: a failed save leaves nothing.
    """
    refs = [tag if tag in image.tags else image.id]
    base_ref, _, base_id = image.labels.get(f"{LABEL_PREFIX}base", "").rpartition("@")
    base = docker.find_image(base_ref) if base_ref else None
    if base is not None and base.id == base_id:
        refs.append(base_ref)
    elif docker.find_image(base_id) is not None:
        refs.append(base_id)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        _write(docker, refs, path, partial, progress)
    except OSError as exc:
        raise ImageError(
            f"cannot write {path}: {exc.strerror}; give a path in a folder you can write to"
        ) from None
    finally:
        partial.unlink(missing_ok=True)


def _write(docker: Docker, refs: list[str], path: Path, partial: Path, progress: Progress) -> None:
    with open(partial, "wb") as raw:
        if path.name.endswith((".gz", ".tgz")):
            # Level 1: most of the size gain for a fraction of the time.
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as zipped:
                docker.save(refs, zipped.write, progress)
        else:
            docker.save(refs, raw.write, progress)
    partial.replace(path)


def load_snapshots(docker: Docker, path: Path, progress: Progress) -> list[ImageInfo]:
    """Load ``path`` (from :func:`save_snapshot` or ``docker save``); the snapshots it held."""
    try:
        size = path.stat().st_size
        source = open(path, "rb")  # noqa: SIM115 (closed below, streamed meanwhile)
    except OSError as exc:
        raise ImageError(
            f"cannot read {path}: {exc.strerror}; give a file written by `dbsnap save`"
        ) from None
    with source:
        tags = docker.load(source, size, progress)
    images = [docker.find_image(tag) for tag in tags]
    snapshots = [
        i for i in images if i is not None and i.labels.get(f"{LABEL_PREFIX}kind") == "snapshot"
    ]
    if not snapshots:
        raise ImageError(
            f"{path} holds no dbsnap snapshot (loaded: {', '.join(tags) or 'nothing tagged'}); "
            "give a file written by `dbsnap save`"
        )
    return snapshots
