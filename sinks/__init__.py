__version__ = "0.1.0"


def open_run(path, *, region=None):  # noqa: ANN001, ANN201 - thin lazy wrapper, see sinks.runview.open_run
    """Open a run or batch folder as a lazy xarray Dataset (``landcover (time, y, x)``, carbon layers,
    ``change``; CRS via rioxarray); tables, ``.plot()`` and ``.explore()`` on ``ds.sinks``.
    ``region=ID`` opens one region of a batch folder."""
    from .runview import open_run as _open_run

    return _open_run(path, region=region)
