"""The scheduling priority of one thread (Linux keeps a nice value per thread)."""

from __future__ import annotations

import os
import sys
import threading

__all__ = ["NICE", "lower_thread_priority"]

#: The nice value of background work (the lowest priority).
NICE = 19


def lower_thread_priority(nice: int = NICE) -> bool:
    """Give the calling thread (only) the scheduling priority ``nice``; whether it could.

    Linux keeps a nice value per thread, so ``setpriority`` on the thread's id leaves the
    process's other threads as they are, and threads it starts later inherit it.
    Elsewhere the call would change the whole process's priority, so it is not made.
    An unprivileged thread cannot raise its priority again.
    """
    if not sys.platform.startswith("linux") or not hasattr(os, "setpriority"):
        return False
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError:  # pragma: no cover - a sandbox that forbids it
        return False
    return True
