"""One writer per output store: a second ``emofx embed`` (or probe, systems) on the same folder
fails at once, naming the process that holds it, instead of corrupting its shards.

The lock is a POSIX record lock (``lockf``) on a file in the temp folder named after the store's
resolved path, not a file inside the store: the stores are DVC outputs and dependencies, and a lock
file there would change their hashes. The kernel releases it when the holder dies, even on
``kill -9``; unlike ``flock`` it belongs to the process, so DataLoader workers forked while it is
held do not keep it alive after their parent is killed. A plain ``fcntl`` lock rather than
``filelock``: filelock truncates the file when it tries the lock, which would erase the holder's
pid that the error message reports.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import hashlib
import inspect
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

from emofx.errors import EmofxError
from emofx.tracking import is_rank_zero

P = ParamSpec("P")
R = TypeVar("R")


class AlreadyRunningError(EmofxError, RuntimeError):
    """Another process writes the same output store."""


def lock_path(target: str | Path) -> Path:
    """The lock file of ``target`` (per user, keyed by its resolved path)."""
    resolved = Path(target).resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"emofx-locks-{os.getuid()}" / f"{digest}.lock"


@contextmanager
def exclusive(target: str | Path, stage: str, *, wait: bool = False) -> Iterator[None]:
    """Hold ``target``'s lock, or raise :class:`AlreadyRunningError` at once (``wait``: block
    until the holder is done)."""
    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise AlreadyRunningError(
                f"emofx {stage} is already running on {target} (pid {holder}): wait for it "
                "to finish or stop it, then rerun"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def exclusive_output(
    param: str, stage: str, *, clear_on_error: bool = False
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a stage function: hold the lock of its output folder argument ``param`` while it
    runs (rank zero only: DDP workers run inside the holder). With ``clear_on_error`` a failed
    run removes the folder, so its output is complete or absent, never a partial set."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def locked(*args: P.args, **kwargs: P.kwargs) -> R:
            if not is_rank_zero():
                return func(*args, **kwargs)
            out = Path(signature.bind(*args, **kwargs).arguments[param])
            with exclusive(out, stage):
                try:
                    return func(*args, **kwargs)
                except BaseException:
                    if clear_on_error:
                        shutil.rmtree(out, ignore_errors=True)
                    raise

        return locked

    return decorate
