"""Debian packages the tests need (Chromium, a CJK font): found, or installed with apt-get.

When a package is missing and the tests run as root with apt-get, ``apt-get update``
(once per test session) and ``apt-get install -y PACKAGE`` are run.  Where that cannot
be done, :class:`Missing` says why and the tests that need it skip with that reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Callable

_updated = False


class Missing(RuntimeError):
    """A Debian package is not installed and cannot be installed here."""


def ensure(package: str, present: Callable[[], bool]) -> None:
    """Install ``package`` with apt-get unless ``present()`` is already true."""
    global _updated
    if present():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Missing(f"{package} is not installed and apt-get (as root) is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmds = ([] if _updated else [["apt-get", "update", "-qq"]]) + [["apt-get", "install", "-y", "-qq", package]]
    for cmd in cmds:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            raise Missing(f"{' '.join(cmd)} failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
        if cmd[1] == "update":
            _updated = True
    if not present():
        raise Missing(f"apt-get installed {package} but it is still not found")


def cjk_font() -> str:
    """Family name of a CJK-capable font matplotlib can use, installing ``fonts-wqy-microhei`` if none."""
    from sinks.report import fonts

    def found() -> bool:
        fonts.cjk_family.cache_clear()
        return fonts.cjk_family() is not None

    ensure("fonts-wqy-microhei", found)
    return fonts.cjk_family()
