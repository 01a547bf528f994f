"""A stage that ``dvc repro`` started ends when dvc ends (no ``emofx embed`` left behind)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

#: set by DVC for every stage command (dvc/env.py); a user's own run never has it
DVC_STAGE_ENV = "DVC_STAGE"
PR_SET_PDEATHSIG = 1


def die_with_dvc() -> bool:
    """Under DVC, ask the kernel to kill this process when its parent (dvc, or the shell dvc
    started) dies; True when armed. Linux only; a run started by the user (``nohup emofx …``)
    is never touched. SIGKILL, not SIGTERM: Lightning catches SIGTERM and would go on."""
    if DVC_STAGE_ENV not in os.environ or not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent died before the request was in place
        os.kill(os.getpid(), signal.SIGKILL)
    return True
