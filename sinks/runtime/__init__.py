"""Runtime plumbing: how sinks runs, not what it computes.

===============  ==================================================================
module           job
===============  ==================================================================
``strips``       :func:`compute_in_strips`: a dask pass a few block rows at a time
``halo``         :func:`halo_overlap`: ``map_overlap`` with copied edge strips
``child``        :class:`ChildProcess`: one function in a fresh interpreter
``memory``       malloc arenas capped, freed heap memory given back between stages
``hashcache``    the checksum cache on disk (digests of unchanged inputs)
``progress``     :class:`BlockCounter`: progress events of the blocks written
===============  ==================================================================

The local dask schedulers by name (``sinks/_sched.py``) belong here too; they stay
beside the package until the cluster work that edits them has landed.  ``sinks.hashcache``
re-exports :mod:`.hashcache` for the modules not yet moved to this import.

Nothing is imported here: ``python -m sinks.runtime.child`` and the command line load
only the module they use.
"""
