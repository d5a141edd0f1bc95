"""Accuracy and sinks of the periods already mapped, computed beside the next pass.

After the pass of epoch ``k`` (not the last), the land cover of epochs ``k - 1`` and ``k``
is written and their transition matrix counted.  The accuracy of both epochs against
the reference sample and the sink of the period between them (with its error-adjusted
areas: the raking of the Monte Carlo draws, the costliest part of the carbon stage)
then need nothing from the passes still to come.  :func:`start_aside` computes them on
the run's low-priority background thread (:class:`sinks.runtime.aside.AsideWork`) while
the next pass runs; stages ``accuracy`` and ``carbon`` take them
(:func:`take_accuracy`, :func:`take_sink`) instead of computing them after the last
pass.  The results are the same objects those stages would have computed from the same
inputs; a stage checks that its inputs are the ones the work used and otherwise
computes the value itself (as it does when the work failed: its errors are the stage's
to report).  The sink's log lines come at the time it is computed.

Only for a scene's own run on local threads (not a batch region, not on a cluster),
with a reference sample and a later pass to overlap.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from ..runtime.aside import MISSING
from .context import EpochData, RunContext

__all__ = ["start_aside", "take_accuracy", "take_sink"]

log = logging.getLogger("sinks")


def _wanted(ctx: RunContext, k: int) -> bool:
    from ..cluster import distributed_client

    spec = ctx.spec
    return (1 <= k < len(ctx.epochs) - 1 and ctx.region is None and spec.classification.enabled
            and spec.reference is not None and distributed_client() is None)


def start_aside(ctx: RunContext, k: int) -> None:
    """After the pass of epoch ``k``, queue the accuracy of epochs ``k - 1`` and ``k`` and the
    sink of the period between them (see the module's docstring)."""
    if not _wanted(ctx, k):
        return
    from .carbon import periods

    e1, e2, key, years = periods(ctx)[k - 1]
    carbon = ctx.spec.carbon.enabled
    ctx.aside.submit(lambda put: _period(ctx, e1, e2, key, years, carbon=carbon, put=put))
    log.debug("period %s: accuracy and sink computing beside the next pass", key)


def _period(ctx: RunContext, e1: EpochData, e2: EpochData, key: str, years: int, *, carbon: bool,
            put: Callable[..., None]) -> None:
    from .carbon import carbon_table, forest_growth_of, period_sink
    from .landcover import _frame_is_map, assess_epoch

    acc: dict[str, Any] = {}
    for ep in (e1, e2):
        name = ("accuracy", ep.name)
        done = ctx.aside.peek(name)  # assessed with the previous period
        if done is MISSING:
            counted = ep.results.get("class_areas")
            entry, res, notes = assess_epoch(ctx, ep, counted=counted, collect=True)
            done = (entry, res, notes, counted)
            put(name, done)
        res = done[1]
        if res is not None and _frame_is_map(res):
            acc[ep.name] = res
    tm = e2.results.get("transitions")
    if not carbon or tm is None:
        return
    entry = period_sink(ctx, tm, carbon_table(ctx), forest_growth_of(ctx), e1.name, e2.name, years, acc=acc)
    put(("sink", key), (entry, tm, acc.get(e1.name), acc.get(e2.name)))


def take_accuracy(ctx: RunContext, ep: EpochData, counted: Any) -> Any:
    """``(entry, result, notes)`` of ``ep`` assessed aside from the same mapped areas
    ``counted``, or ``MISSING``."""
    done = ctx.aside.take(("accuracy", ep.name))
    if done is MISSING or done[3] is not counted:
        return MISSING
    return done[:3]


def take_sink(ctx: RunContext, key: str, tm: Any, acc_from: Any, acc_to: Any) -> Any:
    """The sink entry of period ``key`` computed aside from the same transition matrix and
    accuracy results, or ``MISSING``."""
    done = ctx.aside.take(("sink", key))
    if done is MISSING or done[1] is not tm or done[2] is not acc_from or done[3] is not acc_to:
        return MISSING
    return done[0]
