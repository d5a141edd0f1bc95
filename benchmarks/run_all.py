"""`make bench`: run every benchmark script and print their tables.

Set ``SINKS_BENCH_QUICK=1`` for small sizes.  ``bench_carbon.py`` times InVEST in the same
run when ``benchmarks/.invest-venv`` holds it, and builds that environment first when
``SINKS_BENCH_INVEST=1`` (system GDAL, ~5 min; see ``invest_env.py``).  Results (JSON) go to
benchmarks/results/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from invest_env import DEFAULT_VENV, has_invest  # noqa: E402


def main() -> int:
    quick = os.environ.get("SINKS_BENCH_QUICK") == "1"
    scripts = sorted(p for p in HERE.glob("bench_*.py"))
    failed = []
    for s in scripts:
        args = [sys.executable, str(s)]
        if s.name == "bench_pipeline.py":
            args += ["--sizes", "1000,2000" if quick else "5000,10000,20000"]
        elif s.name == "bench_classify.py":
            args += ["--sizes", "1000" if quick else "6000"]
        elif s.name == "bench_carbon.py":
            if os.environ.get("SINKS_BENCH_INVEST") == "1":
                args += ["--install-invest"]
            elif has_invest(DEFAULT_VENV / "bin" / "python"):
                args += ["--invest-python", str(DEFAULT_VENV / "bin" / "python")]
        elif s.name == "bench_batch.py" and quick:
            args += ["--regions", "24", "--repeats", "1"]
        print(f"\n=== {s.name} ===", flush=True)
        if subprocess.call(args) != 0:
            failed.append(s.name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
