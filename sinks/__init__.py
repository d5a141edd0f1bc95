__version__ = "0.1.0"


def open_run(path):  # noqa: ANN001, ANN201 - thin lazy wrapper, see sinks.runview.open_run
    """Open a run folder: lazy layers, indicator tables, summary, ``.plot()``, ``.explore()``."""
    from .runview import open_run as _open_run

    return _open_run(path)
