"""``python -m sinks.cli``."""

from . import main

main()
