"""CSV tables that are safe to open in a spreadsheet.

Spreadsheet tools run a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, in
some, a tab or carriage return) as a formula: a region named ``=cmd|' /C calc'!A0``
would run when the batch table is opened.  As OWASP's guidance on CSV injection
recommends, every *text* cell (and header) that begins with one of those characters is
written with a leading ``'``, which spreadsheets take as "this is text".  Numbers are
written as numbers: ``-2.5`` in a numeric column stays ``-2.5``.  GeoPackage and
Parquet tables keep the raw values.

The escape is reversible: a text cell that already begins with quotes followed by one
of those characters gets one more quote, and :func:`read_csv` (used wherever sinks
reads its own tables back) removes exactly one.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["FORMULA_PREFIXES", "escape_cell", "unescape_cell", "escape_frame", "to_csv", "read_csv"]

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_ESCAPED = re.compile(r"^'*[=+\-@\t\r]")


def escape_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` if it is text a spreadsheet would take as a formula."""
    if isinstance(value, str) and _ESCAPED.match(value):
        return "'" + value
    return value


def unescape_cell(value: Any) -> Any:
    """The inverse of :func:`escape_cell`."""
    if isinstance(value, str) and value.startswith("'") and _ESCAPED.match(value[1:]):
        return value[1:]
    return value


def _text_columns(df: "pd.DataFrame") -> list[Any]:
    import pandas as pd

    return [c for c in df.columns
            if pd.api.types.is_object_dtype(df[c]) or pd.api.types.is_string_dtype(df[c])]


def escape_frame(df: "pd.DataFrame") -> "pd.DataFrame":
    """A copy of ``df`` whose text cells and column names are escaped (numbers untouched)."""
    out = df.copy()
    for c in _text_columns(out):
        out[c] = out[c].map(escape_cell)
    out.columns = [escape_cell(c) for c in out.columns]
    return out


def to_csv(df: "pd.DataFrame", path: str | os.PathLike, **kwargs: Any) -> None:
    """``df.to_csv(path, index=False, encoding="utf-8")`` with formula-like text escaped.

    Lines end in CRLF (RFC 4180), so a cell holding a bare carriage return is quoted
    and cannot split its row.
    """
    kwargs.setdefault("index", False)
    kwargs.setdefault("encoding", "utf-8")
    kwargs.setdefault("lineterminator", "\r\n")
    escape_frame(df).to_csv(path, **kwargs)


def read_csv(path: str | os.PathLike, **kwargs: Any) -> "pd.DataFrame":
    """``pandas.read_csv`` of a table written by :func:`to_csv`, escapes removed.

    ``dtype`` may name columns by their (unescaped) name.
    """
    import pandas as pd

    dtype = kwargs.pop("dtype", None)
    if isinstance(dtype, dict):
        dtype = {escape_cell(k) if isinstance(k, str) else k: v for k, v in dtype.items()}
    df = pd.read_csv(path, dtype=dtype, **kwargs)
    df.columns = [unescape_cell(c) for c in df.columns]
    for c in _text_columns(df):
        df[c] = df[c].map(unescape_cell)
    return df
