"""A process ends with the one that started it: a stage with `dvc repro`, a worker with it."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

import psutil

#: set by DVC for every stage command (dvc/env.py); a user's own run never has it
DVC_STAGE_ENV = "DVC_STAGE"
PR_SET_PDEATHSIG = 1
#: shells DVC may run a stage through; dash (``/bin/sh`` when ``$SHELL`` is unset, as in CI)
#: keeps running as the parent instead of exec-ing the command
SHELLS = frozenset({"sh", "dash", "bash", "zsh", "fish", "ksh"})
WATCH_INTERVAL_S = 0.5


def die_with_dvc() -> bool:
    """Under DVC, end when ``dvc repro`` ends, even on ``kill -9``; True when armed. A run the
    user started (``nohup emofx …``) is never touched.

    The direct parent is tied by the kernel (:func:`die_with_parent`). When that parent is the
    shell DVC ran the command through, it outlives a killed DVC, so a daemon thread also watches
    the first ancestor that is not a shell (DVC itself)."""
    if DVC_STAGE_ENV not in os.environ:
        return False
    armed = die_with_parent(os.getppid())
    owner = _first_non_shell_ancestor()
    if owner is not None and owner.pid != os.getppid():
        threading.Thread(target=_kill_self_when_gone, args=(owner,), daemon=True).start()
        armed = True
    return armed


def die_with_parent(parent_pid: int) -> bool:
    """Ask the kernel to SIGKILL this process when ``parent_pid``, its parent, dies, even on
    ``kill -9`` (Linux ``PR_SET_PDEATHSIG``); True when armed. SIGKILL, not SIGTERM: Lightning
    catches SIGTERM and would go on. A parent already gone ends this process at once."""
    if not sys.platform.startswith("linux"):
        return False
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent_pid:  # the parent died before the request was in place
        os.kill(os.getpid(), signal.SIGKILL)
    return True


def _first_non_shell_ancestor() -> psutil.Process | None:
    try:
        for ancestor in psutil.Process().parents():
            if ancestor.name() not in SHELLS:
                return ancestor
    except psutil.Error:
        return None
    return None


def _kill_self_when_gone(owner: psutil.Process) -> None:
    """``is_running`` compares the start time too, so a recycled pid is not mistaken for DVC."""
    while _alive(owner):
        time.sleep(WATCH_INTERVAL_S)
    os.kill(os.getpid(), signal.SIGKILL)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
