"""Local dask schedulers by name, handed to dask as functions."""

from __future__ import annotations

from typing import Any

__all__ = ["local_scheduler"]


def local_scheduler(name: str | None) -> Any:
    """The ``get`` function of the local dask scheduler ``name`` (default: threads).

    Handing dask the function rather than its name skips dask's probe for a
    dask.distributed client, which imports ``distributed`` (0.3-0.4 s) on every
    compute of a fresh process.  Other names (``"dask.distributed"``, a client) are
    returned unchanged.
    """
    import dask.local
    import dask.threaded

    local = {"threads": dask.threaded.get, "threading": dask.threaded.get, "sync": dask.local.get_sync,
             "synchronous": dask.local.get_sync, "single-threaded": dask.local.get_sync}
    return local.get((name or "threads").lower(), name) if isinstance(name, (str, type(None))) else name
