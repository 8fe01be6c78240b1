"""One avrgen at a time per output folder: an advisory lock (flock) on the folder itself.

`render` and `up`, run at once from cron, CI and a shell, would otherwise interleave
their writes and their `docker compose` calls. The lock is taken on the output folder's
own directory handle, so no lock file appears in output/ (which is committed to git);
the kernel releases it when the process ends, even on SIGKILL, so it never goes stale.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from avrgen.errors import AvrgenError

_held: dict[Path, int] = {}  # folders this process holds (an `up` that renders re-enters)


class BusyError(AvrgenError):
    """Another avrgen holds the output folder and we were told not to wait."""


@contextmanager
def hold(
    folder: Path,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    create: bool = True,
) -> Iterator[None]:
    """Hold the exclusive lock on `folder` for the duration of the block.

    When another process holds it: with `wait`, call `on_wait` once with a message and
    block until it is free; without, raise BusyError. With `create`, a missing folder is
    made first; without, a missing folder means there is nothing to guard.
    """
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AvrgenError(f"{folder}: cannot create it: {exc.strerror}") from None
    elif not folder.is_dir():
        yield
        return
    key = folder.resolve()
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:  # pragma: no cover - a folder just made or found; root opens any
        raise AvrgenError(f"{folder}: cannot open the output folder: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):  # pragma: no cover - ENOLCK
                raise AvrgenError(f"{folder}: cannot lock: {exc.strerror}") from None
            message = f"{folder}: another avrgen is working on it"
            if not wait:
                raise BusyError(f"{message} (--no-wait given)") from None
            if on_wait is not None:
                on_wait(f"{message}; waiting for it to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
    finally:
        os.close(fd)  # releases the lock
