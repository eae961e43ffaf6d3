"""Is a process still there? One answer for every module that reaps what the dead leave.

Why a module of its own: the output journal (stale scratch files) and tracking (runs left
RUNNING) both ask it, and both must agree on what "alive" means: a process we may not
signal (another user's) counts as alive, so nothing of a live writer is ever touched.
"""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True when ``pid`` exists on this host (a permission error still means it exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
