"""A process ends with the one that started it: a stage with `dvc repro`, a worker with it."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

#: set by DVC for every stage command (dvc/env.py); a user's own run never has it
DVC_STAGE_ENV = "DVC_STAGE"
PR_SET_PDEATHSIG = 1


def die_with_dvc() -> bool:
    """Under DVC, end when the process that started this one (dvc, or the shell dvc started)
    ends; True when armed. A run the user started (``nohup emofx …``) is never touched."""
    if DVC_STAGE_ENV not in os.environ:
        return False
    return die_with_parent(os.getppid())


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
