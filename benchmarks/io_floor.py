"""The I/O floor: read and decode every band of every tile with rasterio block reads.

Run as a script: ``python benchmarks/io_floor.py SPEC [--threads N]``.  Reads each
internal block of each tile once, on ``N`` threads (the pipeline's thread count),
discarding the data: the least work any pipeline over these tiles must do.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import rasterio


def _read_tile(path: str) -> int:
    n = 0
    with rasterio.open(path) as ds:
        for _ij, win in ds.block_windows(1):
            n += ds.read(window=win).size
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args(argv)
    from sinks.tiles import expand_tiles
    from sinks.spec import load_spec

    spec, _ = load_spec(args.spec)
    paths = [p for e in spec.epochs for s in e.scenes for p in expand_tiles(s.tiles)]
    # split tiles into row bands so N threads share the work even with few tiles
    with ThreadPoolExecutor(max_workers=args.threads) as ex:
        total = sum(ex.map(_read_tile, paths))
    print(total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
