"""The pipeline's stages, each a small function of the run context.

A stage connects the domain modules (:mod:`sinks.classify`, :mod:`sinks.carbon`,
:mod:`sinks.zonal`, :mod:`sinks.change`, :mod:`sinks.goals` ...) to the run folder and
to ``summary.json``; the science lives there.  :mod:`sinks.pipeline` runs them in
order; they never import from it.

================  ===========================================================================
module            stages
================  ===========================================================================
``context``       :class:`~sinks.stages.context.RunContext` and the typed result of each stage
``read``          reflectance mosaic and spectral indices (lazy, per epoch)
``landcover``     classification (lazy, per epoch), class areas and coverage, accuracy
``carbon``        carbon layers (lazy, per epoch), stock totals, volume, sink, valuation
``change``        change map and transition areas from the previous epoch (lazy, per epoch)
``encroachment``  encroachment patches inside redlines, per period
``zonal``         redline and region indicator tables (in child processes on large grids)
``goals``         forest coverage and stock volume against the national targets
================  ===========================================================================
"""
