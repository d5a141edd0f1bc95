"""``python -m sinks.cli``: the ``sinks`` command (:func:`sinks.cli.console`)."""

from . import console

console()
