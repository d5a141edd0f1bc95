"""Headless Chromium for the report tests: found, or installed from Debian's packages.

When ``chromium`` is missing and the tests run as root with apt-get, ``apt-get update``
and ``apt-get install -y chromium`` are run once.  Where that cannot be done the
browser tests skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", "--hide-scrollbars"]


class NoBrowser(RuntimeError):
    """Chromium is not available and cannot be installed here."""


def chromium() -> str:
    """Path of the Chromium executable, installing Debian's package when missing."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise NoBrowser("chromium is not installed and apt-get (as root) is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            raise NoBrowser(f"{' '.join(cmd)} failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
    path = shutil.which("chromium")
    if not path:
        raise NoBrowser("apt-get installed chromium but no chromium executable was found")
    return path


def render(url: str, *, profile: Path, screenshot: Path | None = None, size: str = "1280,5000",
           dump_dom: bool = False) -> subprocess.CompletedProcess:
    """Open ``url`` headless; take a screenshot or dump the DOM.  stderr holds the console log."""
    cmd = [chromium(), *_FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"]
    if screenshot is not None:
        cmd.append(f"--screenshot={screenshot}")
    if dump_dom:
        cmd.append("--dump-dom")
    cmd.append(url)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)
