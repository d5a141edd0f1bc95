"""Pipeline stages beyond reading and indices.

Each stage is a small function of the :class:`sinks.pipeline.RunContext`; the
science lives in the domain modules (:mod:`sinks.classify`, :mod:`sinks.carbon`,
:mod:`sinks.zonal`, :mod:`sinks.change`, :mod:`sinks.goals` ...), the stages only
connect them to the run folder and to ``summary.json``.

==================  =============================================================
module              stages
==================  =============================================================
``landcover``       classification (lazy, per epoch), class areas, accuracy
``carbon``          carbon layers (lazy, per epoch), stock totals, volume, sink
``areas``           change maps, encroachment, redline/region indicators, goals
==================  =============================================================
"""
