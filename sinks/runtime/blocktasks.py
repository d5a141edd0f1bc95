"""A reduction over the blocks of dask arrays as one graph layer: a task per block, then one
that combines their results.

The pass of each epoch counts its land cover block by block (class areas, transitions,
tile counts for the tables, the codes under the reference samples, agreement with a
truth map).  Built with ``dask.delayed`` one call per block, each of those reductions cost
about half a millisecond a block on the main thread between two passes (the call
tokenizes its arguments and merges graphs), with one core idle; :func:`block_reduce`
writes the same tasks into one layer directly.  The tasks are those ``dask.delayed``
would make, under other keys: ``(name, i, j)`` for block ``(i, j)``, so
:mod:`sinks.runtime.strips` places them on the block's row as before.

A pass holds several such reductions over the same blocks (five per block of a later
epoch at 100 Mpx: a fifth of the pass's tasks), each task costing dask's scheduler its
bookkeeping under the GIL.  :func:`fuse_block_reductions` runs the reductions' tasks of one
block as one task, whose results the combining tasks pick out.
"""

from __future__ import annotations

import collections
import operator
from typing import Any, Callable, Iterable, Sequence

__all__ = ["block_reduce", "fuse_block_reductions"]

#: The combining step and the block tasks of each reduction :func:`block_reduce` made, by the
#: combining task's key (the most recent :data:`MAX_KNOWN`), for :func:`fuse_block_reductions`.
_MADE: "collections.OrderedDict[str, tuple[Callable[..., Any], list[tuple], tuple]]" = collections.OrderedDict()
MAX_KNOWN = 4096


def block_reduce(func: Callable[..., Any], arrays: Sequence[Any], *, combine: Callable[..., Any],
                 extra: Callable[[int, int, int, int], tuple] | None = None,
                 combine_args: tuple = (), blocks: Iterable[tuple[int, int]] | None = None,
                 name: str) -> Any:
    """``combine([func(*blocks_ij, *extra(i, j, r0, c0)) for (i, j) in blocks], *combine_args)`` as a Delayed.

    Parameters
    ----------
    func : callable
        Called once per block with the block ``(i, j)`` of each array, then the extra
        arguments of that block.
    arrays : sequence of dask.array.Array
        Two-dimensional, with the same chunks.  Their graphs are taken unoptimised (as
        ``to_delayed(optimize_graph=False)`` gives them), so the pass that computes them
        with other outputs computes each block once.
    combine : callable
        Called with the list of the blocks' results (in the order of ``blocks``), then
        ``combine_args``.
    extra : callable, optional
        ``extra(i, j, r0, c0)``: the further arguments of block ``(i, j)``, whose first
        pixel is at row ``r0``, column ``c0``.
    combine_args : tuple
        Further arguments of ``combine``.
    blocks : iterable of (int, int), optional
        The blocks to visit (default: all, row by row).
    name : str
        Prefix of the tasks' keys.

    Returns
    -------
    dask.delayed.Delayed
    """
    import numpy as np
    from dask._task_spec import List, Task, TaskRef
    from dask.base import tokenize
    from dask.delayed import Delayed
    from dask.highlevelgraph import HighLevelGraph

    if not arrays:
        raise ValueError("block_reduce: no arrays")
    chunks = arrays[0].chunks
    if len(chunks) != 2 or any(a.chunks != chunks for a in arrays[1:]):
        raise ValueError("block_reduce: the arrays must be two-dimensional with the same chunks")
    r_edges = np.cumsum((0, *chunks[0])).tolist()
    c_edges = np.cumsum((0, *chunks[1])).tolist()
    ij = [(i, j) for i in range(len(chunks[0])) for j in range(len(chunks[1]))] if blocks is None \
        else [(int(i), int(j)) for i, j in blocks]
    args = [tuple(extra(i, j, r_edges[i], c_edges[j])) if extra is not None else () for i, j in ij]
    token = tokenize(func, combine, [a.name for a in arrays], ij, args, combine_args)
    part, whole = f"{name}-{token}", f"{name}-merge-{token}"
    layer: dict[Any, Any] = {}
    refs = []
    for (i, j), more in zip(ij, args):
        key = (part, i, j)
        layer[key] = Task(key, func, *[TaskRef((a.name, i, j)) for a in arrays], *more)
        refs.append(TaskRef(key))
    layer[whole] = Task(whole, combine, List(*refs), *combine_args)
    _MADE[whole] = (combine, [r.key for r in refs], tuple(combine_args))
    _MADE.move_to_end(whole)
    while len(_MADE) > MAX_KNOWN:
        _MADE.popitem(last=False)
    graph = HighLevelGraph.from_collections(whole, layer, dependencies=list(arrays))
    return Delayed(whole, graph)


def _together(*parts: Any) -> tuple:
    return parts


def fuse_block_reductions(dsk: dict) -> dict:
    """``dsk`` with the block tasks of the :func:`block_reduce` reductions it holds run as
    one task per block where two or more reduce the same block.

    The fused task of block ``(i, j)`` calls each reduction's function as its own task did
    and returns their results in a tuple; each combining task takes its part by index.
    ``dsk`` is a task-spec graph (``dask._task_spec``, as ``convert_legacy_graph`` gives
    it); the result computes the same values for every key ``dsk`` had, except the block
    tasks it fused.
    """
    from dask._task_spec import List, Task, TaskRef
    from dask.base import tokenize

    specs = {k: _MADE[k] for k in dsk if isinstance(k, str) and k in _MADE and isinstance(dsk[k], Task)}
    groups: dict[tuple, list[tuple]] = collections.defaultdict(list)
    for _combine, parts, _args in specs.values():
        for key in parts:
            if isinstance(dsk.get(key), Task):
                groups[key[1:]].append(key)
    out = dict(dsk)
    where: dict[tuple, tuple[tuple, int]] = {}
    for ij, keys in groups.items():
        if len(keys) < 2:
            continue
        fused = (f"block-reductions-{tokenize(keys)}", *ij)
        inner = [out.pop(k) for k in keys]
        out[fused] = Task(fused, _together, *[Task(None, t.func, *t.args, **t.kwargs) for t in inner])
        where.update({k: (fused, n) for n, k in enumerate(keys)})
    for whole, (combine, parts, args) in specs.items():
        if any(k in where for k in parts):
            refs = [Task(None, operator.getitem, TaskRef(where[k][0]), where[k][1]) if k in where else TaskRef(k)
                    for k in parts]
            out[whole] = Task(whole, combine, List(*refs), *args)
    return out
