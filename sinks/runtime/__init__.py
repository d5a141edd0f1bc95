"""Runtime plumbing: how sinks runs, not what it computes.

===============  ==================================================================
module           job
===============  ==================================================================
``strips``       :func:`compute_in_strips`: a dask pass a few block rows at a time
``halo``         :func:`halo_overlap`: ``map_overlap`` with copied edge strips
``blocktasks``   :func:`block_reduce`: a task per block and one combining them
``child``        :class:`ChildProcess`: one function in a fresh interpreter (or a
                 spare one started early, :func:`prestart`, :func:`prewarm`)
``memory``       malloc arenas capped, freed heap memory given back between stages
``hashcache``    the checksum cache on disk (digests of unchanged inputs)
``progress``     :class:`BlockCounter`: progress events of the blocks written
``sched``        :func:`local_scheduler`: dask's local schedulers by name
===============  ==================================================================

Which scheduler a run uses (local threads, or a ``dask.distributed`` cluster) is decided
by :mod:`sinks.cluster`.

Nothing is imported here: ``python -m sinks.runtime.child`` and the command line load
only the module they use.
"""
