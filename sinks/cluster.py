"""Which dask scheduler a run uses: local threads, or a ``dask.distributed`` cluster.

:func:`run_scheduler` resolves, in this order:

1. the ``scheduler`` argument (``sinks run --scheduler``): ``threads`` or
   ``synchronous`` for dask's local schedulers, a scheduler address
   (``tcp://host:8786``, ``tls://…``, ``host:8786``) or a ``distributed.Client``;
2. the ``SINKS_SCHEDULER`` environment variable, read the same way;
3. a ``distributed.Client`` active in the caller's Python (``Client()`` in a notebook);
4. dask's threaded scheduler.

On a cluster every dask pass of the run (reads, classification, the COG tile tasks,
reductions) and the indicator tables run as tasks on the workers; the environment
variables that configure GDAL's network access and credentials are installed on every
worker first (:func:`sinks.remote.forward_to_workers`).  Outputs are written by the
workers, so the output folder must be on a file system every worker reaches (the same
machine, NFS, Lustre ...) or the run writes to object storage (:mod:`sinks.objstore`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from typing import Any, Iterator

from .errors import ConfigError

__all__ = ["ENV", "LOCAL", "is_address", "connected", "run_scheduler", "distributed_client", "connect",
           "check_threads"]

log = logging.getLogger("sinks")

#: Environment variable naming the scheduler of ``sinks run`` when ``--scheduler`` is not given.
ENV = "SINKS_SCHEDULER"
#: Names of dask's local schedulers.
LOCAL = ("threads", "threading", "sync", "synchronous", "single-threaded")

_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://\S+$|^[\w.\-]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$")


def is_address(name: str) -> bool:
    """Whether ``name`` is a dask.distributed scheduler address (``tcp://host:8786``, ``host:8786``)."""
    return bool(_ADDRESS.match(name.strip()))


def connect(address: str, *, timeout: float = 30.0) -> Any:
    """A ``distributed.Client`` connected to ``address``.

    Raises
    ------
    ConfigError
        ``distributed`` is not installed, or no scheduler answers at ``address`` within
        ``timeout`` seconds (one line naming the address).
    """
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError(f"--scheduler {address}: needs dask.distributed "
                          "(pip install 'sinks[distributed]')") from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ConfigError(f"--scheduler {address}: no dask scheduler answered ({text})") from None


def _active_client() -> Any:
    """The ``distributed.Client`` active in this process, or ``None`` (``distributed`` is not
    imported here just to look)."""
    if "distributed" not in sys.modules:
        return None
    from distributed import default_client

    try:
        client = default_client()
    except ValueError:
        return None
    return client if getattr(client, "status", "") == "running" else None


def distributed_client() -> Any:
    """The ``distributed.Client`` that dask's current scheduler belongs to, or ``None``."""
    import dask.base

    get = dask.base.get_scheduler()
    owner = getattr(get, "__self__", None)
    if owner is not None and type(owner).__name__ == "Client":
        return owner
    return None


@contextlib.contextmanager
def connected(scheduler: Any = None) -> Iterator[Any]:
    """Check ``scheduler`` (or ``SINKS_SCHEDULER``) before a run touches its output folder, and
    connect to it when it is an address; yield what :func:`run_scheduler` takes (the client,
    closed on exit, for an address; the value unchanged otherwise).

    Raises
    ------
    ConfigError
        A name that is neither a local scheduler nor an address, or no scheduler answering.
    """
    name = scheduler if scheduler is not None else (os.environ.get(ENV) or None)
    if not isinstance(name, str) or name.strip().lower() in LOCAL:
        yield scheduler
        return
    if not is_address(name):
        src = "--scheduler" if scheduler is not None else ENV
        raise ConfigError(f"{src} {name!r}: expected threads, synchronous or a scheduler address (tcp://host:8786)")
    client = connect(name.strip())
    try:
        yield client
    finally:
        client.close()


def check_threads() -> None:
    """Refuse a thread count for dask's local scheduler that is not a positive whole number.

    Reads ``DASK_NUM_WORKERS`` as dask does (a Python literal, never executed), else dask's
    ``num_workers`` setting when dask is imported: dask would otherwise fail deep inside its
    thread pool (an empty ``DASK_NUM_WORKERS`` gave ``TypeError: '<=' not supported``).

    Raises
    ------
    ConfigError
        Naming ``DASK_NUM_WORKERS`` when the environment sets it.
    """
    value: Any = None
    env = os.environ.get("DASK_NUM_WORKERS")
    if env is not None:
        import ast

        try:
            value = ast.literal_eval(env)  # as dask reads it
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = env
    elif "dask" in sys.modules:
        import dask

        value = dask.config.get("num_workers", None)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        src = "DASK_NUM_WORKERS" if "DASK_NUM_WORKERS" in os.environ else "dask's num_workers setting"
        shown = repr(value)[:60]
        raise ConfigError(f"{src}={shown}: expected a positive whole number of threads")


@contextlib.contextmanager
def run_scheduler(scheduler: Any = None) -> Iterator[Any]:
    """Set dask's scheduler for a run (see the module doc); yield the cluster's client or ``None``.

    A client made here from an address is closed on exit; a caller's client is left open.
    """
    import dask

    from .runtime.sched import local_scheduler

    name = scheduler if scheduler is not None else (os.environ.get(ENV) or None)
    check_threads()
    client, owned = None, False
    if name is None:
        client = _active_client()
    elif isinstance(name, str):
        if name.strip().lower() in LOCAL:
            client = None
        elif is_address(name):
            client, owned = connect(name.strip()), True
        else:
            src = "--scheduler" if scheduler is not None else ENV
            raise ConfigError(f"{src} {name!r}: expected threads, synchronous or a scheduler address "
                              "(tcp://host:8786)")
    elif type(name).__name__ == "Client":
        client = name
    else:
        raise ConfigError(f"scheduler {name!r}: expected a name, an address or a distributed.Client")
    try:
        if client is None:
            with dask.config.set(scheduler=local_scheduler(name if isinstance(name, str) else None)):
                yield None
            return
        from .remote import forward_to_workers

        forward_to_workers(client)
        log.info("computing on the dask cluster at %s", getattr(client.scheduler, "address", client))
        with dask.config.set(scheduler=client.get):
            yield client
    finally:
        if owned and client is not None:
            client.close()
