"""Compute dask collections over a raster in strips of block rows.

A pass over a whole scene is one dask graph.  dask's local schedulers order it to
finish outputs early, but walk the blocks in patches rather than rows, so blocks
that wait for a neighbour (the land cover before its sieve) pile up with the number
of blocks in the graph.  :func:`compute_in_strips` runs the same graph a few block
rows at a time instead:

* every task gets the *row* of the blocks it depends on: a block task ``(name, ...,
  i, j)`` without dependencies is on row ``i``, any other task on the largest row of
  its dependencies (a sieved block on the row below it, once its halo is read; a
  reduction over all blocks on the last row);
* the strips run in order, each on the tasks of its rows.  Results that a later
  strip needs (edge strips, the last row of land cover before its sieve, per-block
  counts) are kept and handed to that strip as data, so no task runs twice and what
  is held between strips is one row of blocks and small values.

The result is the same as ``dask.compute``; only the order of the work and what is in
memory at once differ.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

__all__ = ["compute_in_strips", "supported"]

log = logging.getLogger("sinks")


def supported() -> bool:
    """Whether this dask has what strips need: task-spec graphs and joint optimisation
    of several collections (dask 2025 and later).  Older versions compute in one go."""
    try:
        from dask._task_spec import DataNode, convert_legacy_graph  # noqa: F401
        from dask.base import collections_to_expr  # noqa: F401
    except ImportError:
        return False
    return True


def _block_row(key: Any) -> int | None:
    """``i`` of a block key ``(name, ..., i, j)``; ``None`` for other keys."""
    if isinstance(key, tuple) and len(key) >= 3 and all(isinstance(k, int) for k in key[-2:]):
        return int(key[-2])
    return None


def _rows(dsk: dict, deps: dict) -> dict:
    """Row of every task: a block root's own row, else the largest row of its dependencies
    (``-1`` for tasks that depend on no block)."""
    from dask.core import toposort

    rows: dict[Any, int] = {}
    for key in toposort(dsk, dependencies=deps):
        d = deps[key]
        if d:
            rows[key] = max(rows[k] for k in d)
        else:
            r = _block_row(key)
            rows[key] = -1 if r is None else r
    return rows


def compute_in_strips(*collections: Any, get: Callable[..., Any], rows_per_strip: int = 2,
                      min_blocks: int = 32) -> tuple[Any, ...]:
    """``dask.compute(*collections)`` run a few block rows at a time (see the module doc).

    Parameters
    ----------
    *collections : dask collections
        Arrays, delayed objects, or containers of them: their graphs are optimised
        together, as ``dask.compute`` does.
    get : callable
        A dask scheduler's ``get(dsk, keys)`` (threaded or synchronous).
    rows_per_strip : int
        Block rows a strip spans at least.
    min_blocks : int
        Blocks a strip spans at least (narrow scenes take more rows per strip).

    Returns
    -------
    tuple
        The computed value of each collection.
    """
    from dask._task_spec import DataNode, convert_legacy_graph
    from dask.base import collections_to_expr, unpack_collections
    from dask.core import flatten, reverse_dict

    from .blocktasks import fuse_block_reductions

    found, repack = unpack_collections(*collections)  # collections nested in tuples, dicts
    if not found:
        return collections
    # optimised together, as dask.compute does (dask.optimize would fuse a block shared by
    # two collections into both, and run it twice); the outputs keep their keys
    dsk = convert_legacy_graph(dict(collections_to_expr(list(found), True).optimize().__dask_graph__()))
    dsk = fuse_block_reductions(dsk)  # the per-block counts of a pass: one task per block
    deps = {k: set(node.dependencies) for k, node in dsk.items()}
    dependents = reverse_dict(deps)
    rows = _rows(dsk, deps)
    wanted = set(flatten([c.__dask_keys__() for c in found]))
    top = max(rows.values(), default=-1)
    width = max((key[-1] + 1 for key in dsk if _block_row(key) is not None), default=1)
    step = max(rows_per_strip, -(-min_blocks // width))
    by_row: dict[int, list] = {}
    for k, r in rows.items():
        by_row.setdefault(r, []).append(k)
    values: dict[Any, Any] = {}
    bounds = list(range(0, top + 1, step)) + [top + 1]
    strips = [(-1 if n == 0 else a, b) for n, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))] or [(-1, 0)]
    for a, b in strips:
        keys = [k for r in range(a, b) for k in by_row.get(r, ())]
        if not keys:
            continue
        inside = set(keys)
        # kept for later strips: what the run returns or a later task uses
        keep = [k for k in keys if k in wanted or any(d not in inside for d in dependents[k])]
        sub = {k: dsk[k] for k in keys}
        for k in keys:
            for d in deps[k]:
                if d not in inside:
                    sub[d] = DataNode(d, values[d])
        got = get(sub, keep)
        values.update(zip(keep, got))
        # drop what no later task needs
        for k in {d for k in keys for d in deps[k] if d not in inside}:
            if k not in wanted and all(rows[x] < b for x in dependents[k]):
                values.pop(k, None)
        log.debug("strip of rows %d-%d: %d tasks, %d values kept", a, b - 1, len(keys), len(values))

    def build(ks: Any) -> Any:
        return [build(k) for k in ks] if isinstance(ks, list) else values[ks]

    out = []
    for c in found:
        finalize, args = c.__dask_postcompute__()
        out.append(finalize(build(c.__dask_keys__()), *args))
    return repack(out)
