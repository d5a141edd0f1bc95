"""Progress events of a run: the stages, and the raster blocks computed for writing.

:class:`BlockCounter` wraps each layer a pass writes in an identity ``map_blocks`` that
counts its blocks as they are computed (dask fuses it into the layer's own tasks): the
total grows by the layer's number of blocks when the pass starts, the count as each block
is ready to be written.  The events go to the caller's ``on_event`` (the CLI's progress
bar); the library itself prints nothing.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

__all__ = ["BlockCounter", "Event"]

Event = Callable[[dict[str, Any]], None]


class BlockCounter:
    """Emit ``{"event": "blocks", "done", "total"}`` for the blocks of the layers written."""

    def __init__(self, emit: Event) -> None:
        self.emit = emit
        self.done = 0
        self.total = 0
        self._lock = threading.Lock()

    def _tick(self, block: Any) -> Any:
        with self._lock:
            self.done += 1
            self.emit({"event": "blocks", "done": self.done, "total": self.total})
        return block

    def wrap(self, data: Any) -> Any:
        """``data`` (a dask array) counting its blocks as they are computed; other data unchanged."""
        import dask.array as da

        if not isinstance(data, da.Array):
            return data
        with self._lock:
            self.total += data.npartitions
            self.emit({"event": "blocks", "done": self.done, "total": self.total})
        return data.map_blocks(self._tick, dtype=data.dtype, meta=data._meta)
