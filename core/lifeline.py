"""Every process of a supervised worker cluster dies with its parent (Linux), so no part of a
cluster outlives the process that started it, even when that one is killed with SIGKILL.

The supervisor starts the cluster with `HELIOS_WORKER_SUPERVISOR_PID`; the cluster's main process
then asks the kernel for SIGKILL when its parent goes (`PR_SET_PDEATHSIG`), and so does every
process forked below it (the sentinel, pusher, monitor and workers), through an at-fork hook.
"""

import ctypes
import os
import signal
import sys

SUPERVISOR_PID_ENV = "HELIOS_WORKER_SUPERVISOR_PID"
_PR_SET_PDEATHSIG = 1

_parent_at_fork = 0


def install() -> None:
    """Tie this process and every child it forks to its parent's life (a no-op outside a
    supervised cluster, and where the kernel offers no parent-death signal)."""
    supervisor = os.environ.get(SUPERVISOR_PID_ENV, "")
    if not supervisor.isdigit() or not sys.platform.startswith("linux"):
        return
    _die_with_parent(int(supervisor))
    os.register_at_fork(before=_remember_parent, after_in_child=_die_with_forking_parent)


def _remember_parent() -> None:
    global _parent_at_fork
    _parent_at_fork = os.getpid()


def _die_with_forking_parent() -> None:
    _die_with_parent(_parent_at_fork)


def _die_with_parent(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request: follow it now
        os.kill(os.getpid(), signal.SIGKILL)
