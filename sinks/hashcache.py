"""The checksum cache, now :mod:`sinks.runtime.hashcache`; this name is kept for ``io.py`` and
``batch.py`` (being split and edited elsewhere) and goes once they import the new one."""

from __future__ import annotations

from .runtime.hashcache import cache_path, lookup, remember, stamp

__all__ = ["cache_path", "lookup", "remember", "stamp"]
