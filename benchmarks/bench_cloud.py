"""A tiny `sinks run` from S3: dask's threads against two worker processes.

Starts moto's S3 server on 127.0.0.1, uploads the `sinks sample-data --size N` tiles to it,
starts `dask scheduler` and `dask worker --nworkers 2 --nthreads 1` (the workers without
any S3 setting: sinks forwards them), then times whole `sinks run` processes alternately
on `--scheduler threads` and `--scheduler tcp://…`, and checks the land cover is equal.

    python benchmarks/bench_cloud.py --size 256 --repeats 3
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import boto3
    import numpy as np
    import rasterio
    import yaml
    from moto.server import ThreadedMotoServer

    bindir = Path(sys.executable).parent
    work = Path(tempfile.mkdtemp(prefix="bench-cloud-"))
    data = work / "sd"
    subprocess.run([bindir / "sinks", "-q", "sample-data", str(data), "--size", str(args.size)], check=True)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    s3env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
             "AWS_S3_ENDPOINT": f"127.0.0.1:{port}", "AWS_HTTPS": "NO", "AWS_VIRTUAL_HOSTING": "FALSE"}
    env = dict(os.environ, **s3env)
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    s3.create_bucket(Bucket="tiles")
    spec = yaml.safe_load((data / "pipeline.yaml").read_text())
    for ep in spec["epochs"]:
        for sc in ep["scenes"]:
            keys = []
            for pat in sc["tiles"]:
                for f in sorted(glob.glob(str(data / pat))):
                    key = Path(f).relative_to(data).as_posix()
                    s3.upload_file(f, "tiles", key)
                    keys.append(f"s3://tiles/{key}")
            sc["tiles"] = keys
    (data / "s3.yaml").write_text(yaml.safe_dump(spec))
    sport = _port()
    sched = subprocess.Popen([bindir / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(sport),
                              "--dashboard-address", ":0"], env=env, stderr=subprocess.DEVNULL)
    bare = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    workers = subprocess.Popen([bindir / "dask", "worker", f"tcp://127.0.0.1:{sport}", "--nworkers", "2",
                                "--nthreads", "1", "--no-dashboard"], env=bare, stderr=subprocess.DEVNULL)
    time.sleep(8)
    runs = {"threads": ["--scheduler", "threads"], "2 worker processes": ["--scheduler", f"tcp://127.0.0.1:{sport}"]}
    times: dict[str, list[float]] = {k: [] for k in runs}
    try:
        for _ in range(args.repeats):
            for name, extra in runs.items():
                out = work / name.replace(" ", "_")
                t = time.perf_counter()
                r = subprocess.run([bindir / "sinks", "-q", "run", str(data / "s3.yaml"), "--out", str(out),
                                    "--overwrite", *extra], env=env, capture_output=True, text=True)
                if r.returncode:
                    sys.exit(r.stderr)
                times[name].append(time.perf_counter() - t)
        a, b = (work / n.replace(" ", "_") for n in runs)
        for f in sorted(a.glob("landcover_*.tif")):
            with rasterio.open(f) as x, rasterio.open(b / f.name) as y:
                assert np.array_equal(x.read(1), y.read(1)), f.name
    finally:
        workers.terminate()
        sched.terminate()
        workers.wait()
        sched.wait()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    for name, ts in times.items():
        print(f"{name}: median {statistics.median(ts):.1f} s ({', '.join(f'{t:.1f}' for t in ts)})")
    print("land cover identical")


if __name__ == "__main__":
    main()
