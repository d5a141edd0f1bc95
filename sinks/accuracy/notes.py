"""Design notes of the accuracy estimators: a :class:`~sinks.errors.SinksWarning`, or a list.

The estimators say what they could not estimate (a stratum with one sample, samples
dropped off the map) with :func:`note`.  By default that is a
:class:`~sinks.errors.SinksWarning`.  Inside :func:`collecting`, notes raised in the
same thread go to the list it yields instead.  ``warnings.catch_warnings`` swaps
process-wide state, so a thread that assesses a map while another thread runs cannot
use it; the list is kept in a context variable, one per thread.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from ..errors import SinksWarning

__all__ = ["collecting", "note"]

_COLLECTED: ContextVar[list[str] | None] = ContextVar("sinks_accuracy_notes", default=None)


def note(text: str, *, stacklevel: int = 1) -> None:
    """Say ``text``: into the list of the enclosing :func:`collecting` of this thread, else
    as a :class:`~sinks.errors.SinksWarning` attributed ``stacklevel`` frames above the caller."""
    got = _COLLECTED.get()
    if got is not None:
        got.append(text)
        return
    warnings.warn(text, SinksWarning, stacklevel=stacklevel + 2)


@contextmanager
def collecting() -> Iterator[list[str]]:
    """Collect the notes this thread raises inside the block (in order) instead of warning."""
    got: list[str] = []
    token = _COLLECTED.set(got)
    try:
        yield got
    finally:
        _COLLECTED.reset(token)
