"""Fonts for maps and reports that show Chinese names (redlines, counties, 生态保护红线).

The HTML report names common CJK fonts in its CSS font stack (:data:`CSS_FONT_STACK`),
so a browser on Windows, macOS or Linux finds one.  Matplotlib has no such fallback
by itself: :func:`rc_params` puts an installed CJK-capable font behind DejaVu Sans in
``font.family``, and matplotlib (≥ 3.6) takes each glyph from the first font of that
list which has it, so Latin text keeps its look and Chinese text is drawn instead
of empty boxes.  When no CJK-capable font is installed, :func:`warn_if_missing` logs
one line saying which package to install.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from typing import Any, Iterable

__all__ = ["CJK_FAMILIES", "CSS_FONT_STACK", "has_cjk", "cjk_family", "rc_params", "warn_if_missing"]

log = logging.getLogger("sinks")

#: CJK-capable font families, most preferred first: Noto/Source Han (Linux, Android), the
#: Windows and macOS system fonts, WenQuanYi (Debian's ``fonts-wqy-*``), older fallbacks.
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "Source Han Sans CN", "Microsoft YaHei",
    "PingFang SC", "Hiragino Sans GB", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Sarasa Gothic SC",
    "SimHei", "Heiti SC", "Droid Sans Fallback", "AR PL UMing CN", "Noto Sans CJK JP", "Noto Sans CJK TC",
)

#: The report's font stack: Latin fonts first, then the CJK families (quoted where needed).
CSS_FONT_STACK: str = ", ".join(
    [f'"{f}"' if " " in f else f for f in ("DejaVu Sans", "Arial", *CJK_FAMILIES[:11])] + ["sans-serif"])

_CJK_RANGES = ((0x2E80, 0x2FDF), (0x3000, 0x303F), (0x3040, 0x30FF), (0x3100, 0x312F), (0x3190, 0x31FF),
               (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0xFF00, 0xFFEF),
               (0x20000, 0x2FA1F))


def has_cjk(text: Any) -> bool:
    """True if ``text`` (any object, as ``str``) holds a CJK character."""
    return any(lo <= ord(ch) <= hi for ch in str(text) for lo, hi in _CJK_RANGES)


def _registered() -> dict[str, str]:
    from matplotlib import font_manager

    return {f.name: f.fname for f in font_manager.fontManager.ttflist}


def _fontconfig_files() -> list[tuple[str, str]]:
    """``(family, file)`` of the fonts fontconfig knows for Chinese (empty without ``fc-list``)."""
    exe = shutil.which("fc-list")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, ":lang=zh", "family", "file"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.splitlines():
        path, _sep, fams = line.partition(":")
        if path.strip().lower().endswith((".ttf", ".otf", ".ttc")) and fams.strip():
            found.append((fams.split(",")[0].strip(), path.strip()))
    return found


@functools.lru_cache(maxsize=1)
def cjk_family() -> str | None:
    """Name of an installed CJK-capable font family known to matplotlib, or ``None``.

    Looks first among the fonts matplotlib has registered, then asks fontconfig for
    fonts covering Chinese and registers the first one (matplotlib's font cache may
    predate the font's installation).
    """
    from matplotlib import font_manager

    known = _registered()
    for fam in CJK_FAMILIES:
        if fam in known:
            return fam
    candidates = _fontconfig_files()
    candidates.sort(key=lambda fp: CJK_FAMILIES.index(fp[0]) if fp[0] in CJK_FAMILIES else len(CJK_FAMILIES))
    for _fam, path in candidates:
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            continue
        name = font_manager.FontProperties(fname=path).get_name()
        if name:
            return name
    return None


def rc_params() -> dict[str, Any]:
    """Matplotlib rc settings that draw CJK text with an installed CJK-capable font.

    Use as ``with matplotlib.rc_context(rc_params()): ...``; without a CJK font the
    settings are empty (DejaVu Sans draws Latin text; Chinese would show as boxes).
    """
    fam = cjk_family()
    if fam is None:
        return {}
    # each family of font.family is one link of matplotlib's fallback chain (a generic
    # name such as sans-serif resolves to a single font), so both are named
    return {"font.family": ["DejaVu Sans", fam, "sans-serif"]}


_warned: set[str] = set()


def warn_if_missing(texts: Iterable[Any]) -> bool:
    """Log once if any of ``texts`` holds CJK characters and no CJK-capable font is installed.

    Returns True when the text can be drawn (no CJK, or a CJK font found).
    """
    if not any(has_cjk(t) for t in texts):
        return True
    if cjk_family() is not None:
        return True
    if "cjk" not in _warned:
        _warned.add("cjk")
        log.warning("no CJK-capable font is installed: Chinese names in the figures will show as boxes "
                    "(install fonts-noto-cjk or fonts-wqy-microhei, or Noto Sans CJK SC)")
    return False
