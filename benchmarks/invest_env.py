"""A separate Python environment with InVEST, for timing InVEST beside sinks in one run.

InVEST needs GDAL's own Python bindings, built against a system GDAL.  The recipe
(tested on Debian 12 with Python 3.11, where the system GDAL is 3.6.2):

1. ``apt-get install libgdal-dev`` (only if ``gdal-config`` is missing; needs root);
2. a venv with ``numpy<2.3``, ``cython<3.2``, setuptools, setuptools_scm and babel;
3. ``GDAL==$(gdal-config --version)`` built without build isolation (against that numpy);
4. ``pygeoprocessing`` and ``natcap.invest`` built without build isolation, so that
   they compile with Cython < 3.2 (Cython 3.2 rejects pygeoprocessing's routing code),
   with the venv's ``bin`` on ``PATH`` (InVEST's build calls ``pybabel``).

The build takes about 5 minutes on 2 cores.  Nothing here runs unless a benchmark is
asked to (``bench_carbon.py --install-invest``); the tests never do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Where ``--install-invest`` builds the environment (git-ignored).
DEFAULT_VENV = HERE / ".invest-venv"
INVEST_VERSION = "3.20.2"


def has_invest(python: Path) -> bool:
    """Whether ``python`` imports ``natcap.invest.carbon``."""
    if not python.exists():
        return False
    code = "import natcap.invest.carbon"
    return subprocess.run([str(python), "-c", code], capture_output=True).returncode == 0


def invest_version(python: Path) -> str:
    """``natcap.invest.__version__`` as ``python`` sees it."""
    out = subprocess.run([str(python), "-c", "import natcap.invest; print(natcap.invest.__version__)"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)


def install(venv: Path = DEFAULT_VENV) -> Path:
    """Build (or reuse) a venv with InVEST at ``venv``; return its Python.

    Raises ``RuntimeError`` with the step that failed.
    """
    python = venv / "bin" / "python"
    if has_invest(python):
        return python
    if shutil.which("gdal-config") is None and (os.geteuid() != 0 or shutil.which("apt-get") is None):
        raise RuntimeError("InVEST needs a system GDAL: install libgdal-dev (gdal-config not found)")
    try:
        if shutil.which("gdal-config") is None:
            _run(["apt-get", "update", "-qq"])
            _run(["apt-get", "install", "-y", "-qq", "libgdal-dev"])
        gdal = subprocess.run(["gdal-config", "--version"], capture_output=True, text=True,
                              check=True).stdout.strip()
        if not python.exists():
            _run([sys.executable, "-m", "venv", str(venv)])
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        _run([*pip, "--upgrade", "pip", "setuptools", "wheel", "numpy<2.3", "cython<3.2", "setuptools_scm", "babel"])
        _run([*pip, "--no-build-isolation", f"GDAL=={gdal}"], env=env)
        _run([*pip, "--no-build-isolation", "pygeoprocessing"], env=env)
        _run([*pip, "--no-build-isolation", f"natcap.invest=={INVEST_VERSION}"], env=env)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"building the InVEST environment in {venv} failed at: {' '.join(exc.cmd)}") from exc
    if not has_invest(python):
        raise RuntimeError(f"{python} cannot import natcap.invest.carbon after the build")
    return python


#: Run InVEST's carbon model (present + future, no valuation, no worker processes): argv is
#: workspace, current LULC, future LULC, pool table.
RUN_CARBON = (
    "import sys\n"
    "import natcap.invest.carbon as carbon\n"
    "ws, cur, fut, pools = sys.argv[1:5]\n"
    "carbon.execute({'workspace_dir': ws, 'results_suffix': '', 'n_workers': -1,\n"
    "                'lulc_bas_path': cur, 'calc_sequestration': True, 'lulc_alt_path': fut,\n"
    "                'carbon_pools_path': pools, 'do_valuation': False})\n"
)


def read_totals(workspace: Path) -> dict[str, float]:
    """InVEST's own totals (Mg C) from ``raster_values_summary.csv`` in its workspace."""
    import csv

    names = {"c_storage_bas.tif": "baseline", "c_storage_alt.tif": "alternate", "c_change_bas_alt.tif": "change"}
    with open(workspace / "raster_values_summary.csv", newline="") as f:
        return {names[r["Filename"]]: float(r["Total"]) for r in csv.DictReader(f) if r["Filename"] in names}
