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
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

__all__ = ["block_reduce"]


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
    graph = HighLevelGraph.from_collections(whole, layer, dependencies=list(arrays))
    return Delayed(whole, graph)
