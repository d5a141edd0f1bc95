"""Numbers as the report shows them: negative figures with the minus sign.

The report's text (tables, paragraphs, chart labels) writes a negative figure with the minus
sign U+2212 (``−58``), as its intervals always did (``−71 – −41``); the files written for
machines (CSV, JSON, the batch table's ``data-v`` sort keys) keep the ASCII hyphen-minus.
"""

from __future__ import annotations

import re

__all__ = ["MINUS", "minus_sign"]

#: The minus sign (U+2212).
MINUS = "\u2212"

#: A hyphen-minus that signs a number: before a digit, at the start or after a space or bracket
#: (not in ``gain-loss``, ``2015-01-02``, ``1e-05`` or ``+/-75``).
_SIGN = re.compile(r"(?<![^\s(\[])-(?=\d)")


def minus_sign(text: str) -> str:
    """``text`` with the hyphen-minus of its negative numbers turned into the minus sign.

    Parameters
    ----------
    text : str
        A formatted number or a figure with its interval (``-58``, ``[-71 – -41]``).

    Returns
    -------
    str
        The text as displayed (``−58``, ``[−71 – −41]``).
    """
    return _SIGN.sub(MINUS, text)
