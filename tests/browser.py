"""Headless Chromium for the report tests: found, or installed from Debian's packages.

When ``chromium`` is missing and the tests run as root with apt-get, ``apt-get update``
and ``apt-get install -y chromium`` are run once (``debian.ensure``).  Where that cannot
be done the browser tests skip with the reason.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", "--hide-scrollbars"]


class NoBrowser(RuntimeError):
    """Chromium is not available and cannot be installed here."""


def chromium() -> str:
    """Path of the Chromium executable, installing Debian's package when missing."""
    from debian import Missing, ensure

    def found() -> str | None:
        return next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)

    try:
        ensure("chromium", lambda: found() is not None)
    except Missing as exc:
        raise NoBrowser(str(exc)) from None
    return found()  # type: ignore[return-value]


def render(url: str, *, profile: Path, screenshot: Path | None = None, size: str = "1280,5000",
           dump_dom: bool = False, pdf: Path | None = None) -> subprocess.CompletedProcess:
    """Open ``url`` headless; take a screenshot, print it to ``pdf`` or dump the DOM.  stderr holds
    the console log."""
    cmd = [chromium(), *_FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"]
    if screenshot is not None:
        cmd.append(f"--screenshot={screenshot}")
    if pdf is not None:
        cmd += [f"--print-to-pdf={pdf}", "--no-pdf-header-footer"]
    if dump_dom:
        cmd.append("--dump-dom")
    cmd.append(url)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)
