"""The ``sinks`` command-line interface.

Commands live one per module in this package: command ``foo-bar`` is the click
command named ``cli`` in ``sinks/cli/foo_bar.py``.  The group discovers them lazily,
so ``sinks --help`` stays fast and a module that fails to import affects only its
own command.

Start-up time matters here (``sinks carbon`` on a small map runs in about a second), so
the command modules import the library inside their command functions, and at module
level only the standard library, click and sinks' cheap modules (errors, budget): a
command loads dask, pandas, geopandas or pydantic only when it uses them.
"""

from __future__ import annotations

import glob
import importlib
import logging
import os
import pkgutil
import sys
from typing import Any

import click

from .. import __version__
from ..errors import InputError, SinksError

__all__ = ["main", "cli"]

_NOT_COMMANDS = {"options"}


class _Interrupted(Exception):
    """Ctrl-C inside a command, carried past click (which would print a blank line and abort)."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


class _LazyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Interrupted(exc) from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = [
            m.name.replace("_", "-")
            for m in pkgutil.iter_modules(__path__)
            if not m.name.startswith("_") and m.name not in _NOT_COMMANDS
        ]
        return sorted(names)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.list_commands(ctx):
            return None
        mod = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
        return mod.cli


def _show_versions(ctx: click.Context, _param: Any, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from .._versions import versions

    for key, val in versions().items():
        click.echo(f"{key:>12}: {val}")
    ctx.exit(0)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sinks")
@click.option(
    "--show-versions",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_versions,
    help="Show versions of sinks and its geospatial stack (GDAL, PROJ, GEOS ...) and exit.",
)
@click.option("-v", "--verbose", count=True, help="More log output; -v also shows tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Measure ecosystem carbon sinks from satellite imagery."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("sinks")
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False
    # GDAL's own error lines ("_tiffWriteProc: No space left on device." ...) reach Python
    # logging through rasterio; the error sinks raises says it in one line, so they show with -v
    gdal_log = logging.getLogger("rasterio")
    gdal_log.handlers[:] = [handler] if verbose else [logging.NullHandler()]
    gdal_log.propagate = False
    # commands compute on local threads unless they start or join a dask.distributed
    # cluster themselves (a Client they create makes itself the default); dask is set up
    # when a command first imports it, so commands that never use it do not load it
    _when_imported("dask", _local_threads)


def _local_threads(dask: Any) -> None:
    from ..runtime.sched import local_scheduler

    dask.config.set(scheduler=local_scheduler("threads"))


class _Hook:
    """A ``sys.meta_path`` finder that runs ``then(module)`` once ``name`` has been imported."""

    def __init__(self, name: str, then: Any) -> None:
        self.name, self.then = name, then

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        import importlib.util

        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _After(spec.loader, self.then)
        return spec


class _After:
    """A loader running ``then(module)`` after the wrapped loader executed the module."""

    def __init__(self, loader: Any, then: Any) -> None:
        self.loader, self.then = loader, then

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        module.__loader__ = self.loader  # resources, source: the real loader answers
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        self.then(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


def _when_imported(name: str, then: Any) -> None:
    """Run ``then(module)`` now if ``name`` is imported, else right after its first import."""
    if name in sys.modules:
        then(sys.modules[name])
    elif not any(isinstance(f, _Hook) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _Hook(name, then))


def _quiet_libtiff() -> None:
    """Stop libtiff printing its own error lines to stderr (``_tiffWriteProc: No space left on
    device.``): GDAL turns them into the exception that sinks reports in one line.

    Only libtiff's process-wide fallback handler is switched off (after rasterio's import
    registered GDAL's drivers, which set it); GDAL's handler per file still receives every
    error.  Run with ``-v`` to see them.
    """
    import ctypes
    import ctypes.util
    import importlib.util

    spec = importlib.util.find_spec("rasterio")
    found = []
    if spec is not None and spec.origin:
        found = glob.glob(os.path.join(os.path.dirname(os.path.dirname(spec.origin)), "rasterio.libs", "libtiff-*.so*"))
    name = found[0] if found else ctypes.util.find_library("tiff")
    if not name:
        return
    try:
        import rasterio  # noqa: F401 - registers GDAL's drivers first

        lib = ctypes.CDLL(name)
        lib.TIFFSetErrorHandler.restype = ctypes.c_void_p
        lib.TIFFSetErrorHandler.argtypes = [ctypes.c_void_p]
        lib.TIFFSetErrorHandler(None)
    except (OSError, AttributeError, ImportError):
        pass


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: map errors to exit codes (DESIGN §5)."""
    from ..runtime.memory import tune_allocator

    tune_allocator()
    args = _hoist_global_flags(list(sys.argv[1:] if argv is None else argv))
    verbose = any(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in args)
    if not verbose:
        _quiet_libtiff()
    try:
        from ..cluster import check_threads

        check_threads()  # every command that computes uses dask's threads
        rv = cli.main(args=args, prog_name="sinks", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            _interrupted(exc.__cause__)
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code == 2 else exc.exit_code)
    except InputError as exc:
        if verbose:
            raise
        click.echo(f"Error: {_one_line(exc)}", err=True)
        sys.exit(2)
    except SinksError as exc:
        if verbose:
            raise
        click.echo(f"Error: {_one_line(exc)}", err=True)
        sys.exit(1)
    except (KeyboardInterrupt, _Interrupted) as exc:
        _interrupted(exc)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - last resort: one line, status 1
        if verbose:
            raise
        click.echo(f"Error: {type(exc).__name__}: {_one_line(exc)} (run with -v for the traceback)", err=True)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)


def console() -> None:
    """The ``sinks`` command: :func:`main`, then a quick exit with its status.

    Once the command has finished, the exit handlers run (background hashing joined, spare
    children stopped, logs flushed) and the process leaves through ``os._exit``, skipping the
    interpreter's teardown of every module and object: about 0.3 s after a large run, in
    which the interpreter has also been seen to crash after all the work was done.  An
    exception other than an exit (``-v`` shows tracebacks) takes Python's usual way out.
    """
    try:
        main()
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): printed, status 1, as Python does
        print(code, file=sys.stderr)
        code = 1
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more to say
            pass
    os._exit(code)


def _interrupted(exc: BaseException) -> None:
    """Ctrl-C: one line (what the interrupted command left, when it says), exit status 130."""
    text = " ".join(str(exc).split())
    click.echo(f"Interrupted: {text}" if text else "Interrupted.", err=True)
    sys.exit(130)


def _is_global_flag(arg: str) -> bool:
    return arg in ("-q", "--quiet", "--verbose") or (len(arg) > 1 and arg[0] == "-" and set(arg[1:]) == {"v"})


def _hoist_global_flags(args: list[str]) -> list[str]:
    """Let ``-v``/``-q`` stand anywhere (``sinks run spec.yaml -v``): move them before the command."""
    if "--" in args:
        cut = args.index("--")
        head, tail = args[:cut], args[cut:]
    else:
        head, tail = args, []
    flags = [a for a in head if _is_global_flag(a)]
    return flags + [a for a in head if not _is_global_flag(a)] + tail


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())
