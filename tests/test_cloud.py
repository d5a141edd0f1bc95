"""Cloud and cluster: tiles in object storage, STAC API searches, runs and batches on dask.distributed.

Real components only: an S3 server (moto's server mode, bound to 127.0.0.1) holding the
sample tiles as multi-band COGs and as one COG per band, a STAC API (a small HTTP server
answering ``/search`` with Earth-Search-style items, searched through pystac-client), and
``distributed.LocalCluster`` worker processes.  The runs read the tiles through GDAL's
``/vsis3/`` and their outputs are compared with a run on the local files.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

pytest.importorskip("moto.server")
pytest.importorskip("pystac_client")
pytest.importorskip("distributed")

BUCKET = "tiles"
DATES = {"2015": "20150820", "2020": "20200820"}
EARTH_SEARCH_KEYS = (("blue", "B02"), ("green", "B03"), ("red", "B04"), ("nir", "B08"), ("swir16", "B11"),
                     ("swir22", "B12"))
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_ENDPOINT", "AWS_HTTPS", "AWS_VIRTUAL_HOSTING",
               "AWS_DEFAULT_REGION")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------
# fixtures: a process cluster, an S3 server, the sample tiles in it, a STAC API
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes, started before any S3 setting is in the
    environment: what they know of the S3 server, sinks forwards to them."""
    from distributed import Client, LocalCluster

    with pytest.MonkeyPatch.context() as mp:
        for k in CREDENTIALS:
            mp.delenv(k, raising=False)
        lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
    client = Client(lc, set_as_default=False)
    yield lc, client
    client.close()
    lc.close()


@pytest.fixture(scope="module")
def s3():
    """moto's S3 server on 127.0.0.1 and a boto3 client for it; GDAL pointed at it."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                     "AWS_DEFAULT_REGION": "us-east-1", "AWS_S3_ENDPOINT": f"127.0.0.1:{port}",
                     "AWS_HTTPS": "NO", "AWS_VIRTUAL_HOSTING": "FALSE"}.items():
            mp.setenv(k, v)
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}")
        client.create_bucket(Bucket=BUCKET)
        yield client
    server.stop()


def _band_cogs(src: str, folder: Path) -> dict[str, Path]:
    """One single-band COG per band of a sample tile, with the tile's tags and nodata."""
    import rasterio
    import rasterio.shutil
    from rasterio.io import MemoryFile

    out = {}
    with rasterio.open(src) as ds:
        profile = ds.profile
        tags = ds.tags()
        for k, (key, _name) in enumerate(EARTH_SEARCH_KEYS, start=1):
            data = ds.read(k)
            p = folder / f"{key}.tif"
            with MemoryFile() as mem:
                with mem.open(driver="GTiff", width=ds.width, height=ds.height, count=1, dtype=profile["dtype"],
                              crs=ds.crs, transform=ds.transform, nodata=ds.nodata) as one:
                    one.write(data, 1)
                    one.update_tags(**tags)
                with mem.open() as one:
                    rasterio.shutil.copy(one, p, driver="COG", compress="DEFLATE", blocksize=64)
            out[key] = p
    return out


def _item(tile: str, date: str, hrefs: dict[str, str], bounds: Any, *, cloud: float) -> dict[str, Any]:
    """An Earth Search (v1) style Sentinel-2 L2A item."""
    from rasterio.warp import transform_bounds

    w, s, e, n = transform_bounds("EPSG:32649", "EPSG:4326", *bounds)
    assets = {key: {"href": hrefs[key], "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                    "roles": ["data", "reflectance"], "eo:bands": [{"name": name, "common_name": key
                                                                   if key in ("blue", "green", "red", "nir")
                                                                   else key}]}
              for key, name in EARTH_SEARCH_KEYS}
    # a JPEG 2000 copy of the blue band and a thumbnail: never read
    assets["blue-jp2"] = {"href": "s3://nowhere/B02.jp2", "type": "image/jp2", "roles": ["data"],
                          "eo:bands": [{"name": "B02", "common_name": "blue"}]}
    assets["thumbnail"] = {"href": "https://nowhere.invalid/thumb.jpg", "type": "image/jpeg", "roles": ["thumbnail"]}
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": f"S2B_49QCD_{date}_0_L2A_{tile}",
        "collection": "sentinel-2-l2a", "bbox": [w, s, e, n],
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {"datetime": f"{date[:4]}-{date[4:6]}-{date[6:]}T03:15:00Z", "eo:cloud_cover": cloud,
                       "platform": "sentinel-2b", "proj:epsg": 32649},
        "links": [], "assets": assets,
        "stac_extensions": ["https://stac-extensions.github.io/eo/v1.1.0/schema.json"],
    }


@pytest.fixture(scope="module")
def scene(s3, tmp_path_factory):
    """The 256-px sample scene (two epochs, one acquisition each) locally, as multi-band COGs
    under ``s3://tiles/multi/`` and as one COG per band under ``s3://tiles/bands/``, with
    the STAC items of the per-band layout and the specs."""
    import rasterio

    from sinks.sampledata import write_sample_data

    root = tmp_path_factory.mktemp("cloud")
    data = root / "sd"
    write_sample_data(data, size=256, seed=7)
    spec = yaml.safe_load((data / "pipeline.yaml").read_text())
    spec["epochs"] = [{"name": ep, "year": int(ep), "scenes": [
        {"date": f"{d[:4]}-{d[4:6]}-{d[6:]}", "tiles": [f"{ep}/s2_{d}_*.tif"]}]} for ep, d in DATES.items()]
    spec.pop("reference", None)
    spec["carbon"]["uncertainty"] = {"draws": 200, "seed": 1}
    spec["aoi"].pop("wetlands", None)
    items, bounds = [], []
    s3_spec = json.loads(json.dumps(spec))
    for e, (ep, d) in enumerate(DATES.items()):
        keys = []
        for f in sorted(glob.glob(str(data / ep / f"s2_{d}_*.tif"))):
            name = Path(f).stem
            s3.upload_file(f, BUCKET, f"multi/{ep}/{name}.tif")
            keys.append(f"s3://{BUCKET}/multi/{ep}/{name}.tif")
            folder = root / "bands" / name
            folder.mkdir(parents=True)
            hrefs = {}
            for key, p in _band_cogs(f, folder).items():
                s3.upload_file(str(p), BUCKET, f"bands/{d}/{name}/{key}.tif")
                hrefs[key] = f"s3://{BUCKET}/bands/{d}/{name}/{key}.tif"
            with rasterio.open(f) as ds:
                bounds.append(tuple(ds.bounds))
                items.append(_item(name[-4:], d, hrefs, ds.bounds, cloud=3.0))
        s3_spec["epochs"][e]["scenes"][0]["tiles"] = keys
    # a cloudy acquisition the search's query leaves out (its files do not exist)
    items.append(_item("r0c0", "20150825", {k: f"s3://{BUCKET}/missing/{k}.tif" for k, _ in EARTH_SEARCH_KEYS},
                       bounds[0], cloud=95.0))
    b = np.array(bounds)
    grid_bounds = [float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())]
    for sp in (spec, s3_spec):
        sp["grid"]["bounds"] = grid_bounds
    for name, sp in (("local.yaml", spec), ("s3.yaml", s3_spec)):
        (data / name).write_text(yaml.safe_dump(sp, allow_unicode=True))
    return {"dir": data, "spec": spec, "items": items}


class _StacApi(BaseHTTPRequestHandler):
    """The part of the STAC API that pystac-client's search uses: the landing page and
    ``/search`` (GET and POST) with ``collections``, ``bbox``, ``datetime``, ``query``, ``limit``."""

    items: list[dict[str, Any]] = []
    calls: list[str] = []

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, obj: Any, status: int = 200) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _base(self) -> str:
        return f"http://{self.headers['Host']}"

    def do_GET(self) -> None:  # noqa: N802
        from urllib.parse import parse_qs, urlparse

        url = urlparse(self.path)
        if url.path in ("", "/"):
            base = self._base()
            self._send({
                "type": "Catalog", "id": "test-api", "stac_version": "1.0.0", "description": "test STAC API",
                "conformsTo": ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search",
                               "https://api.stacspec.org/v1.0.0/item-search#query"],
                "links": [{"rel": "self", "href": f"{base}/", "type": "application/json"},
                          {"rel": "root", "href": f"{base}/", "type": "application/json"},
                          {"rel": "search", "href": f"{base}/search", "type": "application/geo+json", "method": "GET"},
                          {"rel": "search", "href": f"{base}/search", "type": "application/geo+json",
                           "method": "POST"}]})
        elif url.path == "/search":
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            params: dict[str, Any] = {}
            if "collections" in q:
                params["collections"] = q["collections"].split(",")
            if "bbox" in q:
                params["bbox"] = [float(v) for v in q["bbox"].split(",")]
            for k in ("datetime", "limit"):
                if k in q:
                    params[k] = q[k]
            if "query" in q:
                params["query"] = json.loads(q["query"])
            self._search(params)
        else:
            self._send({"code": "NotFound"}, 404)

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?")[0] != "/search":
            self._send({"code": "NotFound"}, 404)
            return
        n = int(self.headers.get("Content-Length") or 0)
        self._search(json.loads(self.rfile.read(n) or b"{}"))

    def _search(self, params: dict[str, Any]) -> None:
        type(self).calls.append(json.dumps(params, sort_keys=True))
        found = []
        for it in self.items:
            if params.get("collections") and it["collection"] not in params["collections"]:
                continue
            if params.get("bbox"):
                w, s, e, n = params["bbox"]
                bw, bs, be, bn = it["bbox"]
                if bw > e or be < w or bs > n or bn < s:
                    continue
            if params.get("datetime"):
                lo, _, hi = str(params["datetime"]).partition("/")
                when = dt.datetime.fromisoformat(it["properties"]["datetime"].replace("Z", "+00:00"))
                lo_t = dt.datetime.fromisoformat(lo.replace("Z", "+00:00")) if lo not in ("", "..") else None
                hi_t = dt.datetime.fromisoformat((hi or lo).replace("Z", "+00:00")) if (hi or lo) not in ("", "..") \
                    else None
                if (lo_t and when < lo_t) or (hi_t and when > hi_t):
                    continue
            ok = True
            for prop, cond in (params.get("query") or {}).items():
                v = it["properties"].get(prop)
                for op, ref in cond.items():
                    ok &= v is not None and {"lt": v < ref, "lte": v <= ref, "gt": v > ref, "gte": v >= ref,
                                             "eq": v == ref}.get(op, False)
            if ok:
                found.append(it)
        limit = int(params.get("limit") or 100)
        self._send({"type": "FeatureCollection", "features": found[:limit], "links": [],
                    "numberReturned": len(found[:limit])})


@pytest.fixture(scope="module")
def stac_api(scene):
    """A STAC API on 127.0.0.1 serving the scene's per-band items."""
    handler = type("Api", (_StacApi,), {"items": scene["items"], "calls": []})
    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def local_run(scene, tmp_path_factory):
    """The reference: the scene's local files on dask's threads."""
    from sinks.pipeline import run

    out = tmp_path_factory.mktemp("local") / "run"
    run(scene["dir"] / "local.yaml", out=out, scheduler="threads")
    return out


def _assert_same_outputs(a: Path, b: Path) -> None:
    """Pixel-equal land cover, change and carbon maps; equal carbon figures and tables."""
    import pandas as pd
    import rasterio

    layers = sorted(p.relative_to(a) for p in a.rglob("*.tif"))
    assert any(str(p).startswith("landcover_") for p in layers)
    for rel in layers:
        with rasterio.open(a / rel) as x, rasterio.open(b / rel) as y:
            assert np.array_equal(x.read(1), y.read(1), equal_nan=True), rel
    for rel in sorted(p.relative_to(a) for p in (a / "tables").glob("*.csv")):
        pd.testing.assert_frame_equal(pd.read_csv(a / rel), pd.read_csv(b / rel))
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    assert sa["carbon"] == sb["carbon"]
    assert sa["landcover"] == sb["landcover"]


# --------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------
def test_remote_paths_map_to_gdal_in_one_place():
    from sinks.errors import ConfigError
    from sinks.remote import gdal_path, is_remote, url_of

    assert gdal_path("s3://b/k/t.tif") == "/vsis3/b/k/t.tif"
    assert gdal_path("gs://b/t.tif") == "/vsigs/b/t.tif"
    assert gdal_path("az://c/t.tif") == "/vsiaz/c/t.tif"
    assert gdal_path("https://h/p/t.tif") == "/vsicurl/https://h/p/t.tif"
    assert gdal_path("/vsicurl/https://h/t.tif") == "/vsicurl/https://h/t.tif"
    assert gdal_path("file:///data/t.tif") == "/data/t.tif"
    assert gdal_path("data/t.tif") == "data/t.tif" and not is_remote("data/t.tif")
    assert all(is_remote(p) for p in ("s3://b/k", "/vsis3/b/k", "gs://b/k", "/vsigs/b/k", "https://h/k",
                                      "/vsicurl/http://h/k", "az://c/k"))
    assert url_of("/vsis3/b/k.tif") == "s3://b/k.tif"
    with pytest.raises(ConfigError, match="ftp://h/t.tif: unsupported URL scheme"):
        gdal_path("ftp://h/t.tif")


def test_bad_remote_tile_is_one_line_naming_it_exit_2(scene, tmp_path, capsys):
    from sinks.cli import main

    spec = json.loads(json.dumps(scene["spec"]))
    spec["epochs"][0]["scenes"][0]["tiles"] = [f"s3://{BUCKET}/multi/2015/no_such_tile.tif"]
    spec["epochs"][1]["scenes"][0]["tiles"] = [str(scene["dir"] / "2020" / "s2_20200820_r0c0.tif")]
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(spec))
    with pytest.raises(SystemExit) as ei:
        main(["-q", "run", str(p), "--out", str(tmp_path / "out")])
    assert ei.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"s3://{BUCKET}/multi/2015/no_such_tile.tif" in err and "Traceback" not in err


def test_run_from_s3_on_a_process_cluster_equals_the_local_run(scene, local_run, cluster, tmp_path, capsys,
                                                                monkeypatch):
    """Done when: `sinks run SPEC --scheduler tcp://…` on tiles under s3:// gives the local
    run's land cover, carbon and tables, with the tasks executed by the workers."""
    from distributed import get_task_stream

    from sinks import outputs
    from sinks.cli import main

    # a tiny scene's layers would be gathered and written from memory by the driver; a
    # scene of real size goes through the one-pass COG writer, whose tile tasks run on the workers
    monkeypatch.setattr(outputs, "IN_MEMORY_BYTES", 0)
    lc, client = cluster
    out = tmp_path / "run"
    with get_task_stream(client=client) as ts:
        with pytest.raises(SystemExit) as ei:
            main(["-q", "run", str(scene["dir"] / "s3.yaml"), "--out", str(out), "--scheduler", lc.scheduler_address])
    assert ei.value.code == 0, capsys.readouterr().err
    _assert_same_outputs(local_run, out)
    workers = set(lc.scheduler_info["workers"])
    ran = {t["key"] if isinstance(t["key"], str) else t["key"][0] for t in ts.data}
    assert {t["worker"] for t in ts.data} <= workers
    assert any(k.startswith(("dn-", "read-")) for k in ran)        # the tiles were read on the workers,
    assert any(k.startswith("cog-") for k in ran)                  # the COGs' tiles written there,
    assert any(k.startswith("sinks-zonal-") for k in ran)          # and the indicator tables computed there
    inputs = json.loads((out / "manifest.json").read_text())["inputs"]
    remote = [i for i in inputs if i.get("remote")]
    assert remote and all(i["etag"] and i["bytes"] > 0 for i in remote)  # provenance: one HEAD each


def test_stac_api_search_of_one_cog_per_band_inside_an_active_client(scene, local_run, stac_api, cluster, tmp_path):
    """A STAC API search (Earth Search asset keys, one COG per band under s3://), run from
    Python while a distributed.Client is active: computed on the cluster, same outputs."""
    from distributed import get_task_stream

    from sinks.pipeline import run

    url, api = stac_api
    lc, client = cluster
    spec = json.loads(json.dumps(scene["spec"]))
    for ep, d in DATES.items():
        e = next(x for x in spec["epochs"] if x["name"] == ep)
        e["scenes"] = [{"stac": {"api": url, "collections": ["sentinel-2-l2a"],
                                 "datetime": f"{d[:4]}-{d[4:6]}-01/{d[:4]}-{d[4:6]}-28",
                                 "query": {"eo:cloud_cover": {"lt": 20}}, "max_items": 20}}]
    p = scene["dir"] / "stac_api.yaml"
    p.write_text(yaml.safe_dump(spec))
    out = tmp_path / "run"
    with client.as_current(), get_task_stream(client=client) as ts:
        summary = run(p, out=out)
    _assert_same_outputs(local_run, out)
    assert summary["epochs"][0]["scenes"] == ["2015-08-20"] and summary["epochs"][0]["tiles"] == 4
    assert any("query" in c and "eo:cloud_cover" in c for c in api.calls)
    assert len(ts.data) > 20 and {t["worker"] for t in ts.data} <= set(lc.scheduler_info["workers"])


def test_batch_on_an_adaptive_cluster_starting_at_zero_workers(scene, tmp_path, capsys):
    """Done when: `sinks batch --scheduler` on an adaptive cluster with no worker yet completes."""
    from distributed import LocalCluster

    from sinks.cli import main

    with LocalCluster(n_workers=0, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as lc:
        lc.adapt(minimum=0, maximum=2, interval="200ms", wait_count=50)
        assert not lc.scheduler_info["workers"]
        out = tmp_path / "batch"
        with pytest.raises(SystemExit) as ei:
            main(["-q", "batch", str(scene["dir"] / "s3.yaml"), "--regions", str(scene["dir"] / "aoi" / "regions.gpkg"),
                  "--id-field", "region_id", "--out", str(out), "--scheduler", lc.scheduler_address,
                  "--only", "450502", "--retries", "1"])
        assert ei.value.code == 0, capsys.readouterr().err
    import pandas as pd

    table = pd.read_csv(out / "batch_summary.csv", dtype={"region_id": str})
    assert table.set_index("region_id").loc[["450502"], "status"].tolist() == ["done"]
    assert not (out / ".input-hashes.json").exists()  # the driver hashed nothing before starting


def test_out_to_s3_writes_whole_objects_manifest_last(scene, local_run, s3, tmp_path, capsys):
    """`--out s3://bucket/prefix`: every output object, the manifest last; a failed run
    uploads nothing; an existing prefix is refused without --overwrite (exit 2)."""
    import rasterio

    from sinks.cli import main

    url = f"s3://{BUCKET}/runs/one"
    with pytest.raises(SystemExit) as ei:
        main(["-q", "run", str(scene["dir"] / "s3.yaml"), "--out", url, "--scheduler", "threads"])
    assert ei.value.code == 0, capsys.readouterr().err
    keys = sorted(o["Key"][len("runs/one/"):] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/one/")["Contents"])
    local = sorted(p.relative_to(local_run).as_posix() for p in local_run.rglob("*")
                   if p.is_file() and p.name != ".sinks-run.lock")
    assert keys == local
    assert not any(".part-" in k for k in keys)
    from sinks.remote import gdal_options

    # read with sinks' GDAL settings (no sibling-file probing: moto's server stalls on GDAL's
    # ranged read of a small .aux.xml object)
    with rasterio.Env(**gdal_options()), rasterio.open(f"{url}/landcover_2020.tif") as a, \
            rasterio.open(local_run / "landcover_2020.tif") as b:
        assert np.array_equal(a.read(1), b.read(1))
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key="runs/one/manifest.json")["Body"].read())
    assert sorted(manifest["outputs"]) == sorted(json.loads((local_run / "manifest.json").read_text())["outputs"])

    # an existing prefix: refused before anything runs
    with pytest.raises(SystemExit) as ei:
        main(["-q", "run", str(scene["dir"] / "s3.yaml"), "--out", url])
    assert ei.value.code == 2
    assert "pass --overwrite" in capsys.readouterr().err

    # a run that fails uploads nothing under its prefix
    spec = json.loads(json.dumps(scene["spec"]))
    spec["epochs"][1]["scenes"][0]["tiles"] = [str(tmp_path / "gone.tif")]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(SystemExit) as ei:
        main(["-q", "run", str(bad), "--out", f"s3://{BUCKET}/runs/two"])
    assert ei.value.code == 2
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/two/")


def test_stac_search_spec_errors_name_the_key_and_signers_are_imported_never_evaluated():
    from sinks.errors import ConfigError, SpecError
    from sinks.spec import parse_spec
    from sinks.stac_search import load_signer

    base = {"sensor": "sentinel2_l2a", "epochs": [{"name": "2020", "year": 2020, "scenes": [
        {"stac": {"api": "https://stac.example/v1", "collections": ["sentinel-2-l2a"], "sign": "os.system(1)"}}]}]}
    with pytest.raises(SpecError, match=r"epochs\.0\.scenes\.0\.stac\.sign: sign must be an importable dotted name"):
        parse_spec(base)
    base["epochs"][0]["scenes"][0]["stac"].pop("sign")
    base["epochs"][0]["scenes"][0]["stac"]["colections"] = ["typo"]
    with pytest.raises(SpecError, match=r"epochs\.0\.scenes\.0\.stac\.colections: unknown key"):
        parse_spec(base)
    assert load_signer("json.loads") is json.loads
    with pytest.raises(ConfigError, match="cannot import"):
        load_signer("no_such_module_here.sign")


def test_stac_search_without_an_area_names_the_spec_and_key(tmp_path, capsys):
    """A STAC API search with no bbox, AOI boundary or grid bounds stops before any request,
    with one line naming the spec file and the search's key."""
    from sinks.cli import main

    spec = tmp_path / "nowhere.yaml"
    spec.write_text(json.dumps({"name": "x", "sensor": "sentinel2_l2a", "epochs": [{"name": "2020", "year": 2020, "scenes": [
        {"date": "2020-07-01", "stac": {"api": "https://127.0.0.1:9/v1", "collections": ["sentinel-2-l2a"],
                                        "datetime": "2020-06-01/2020-07-31"}}]}]}))
    with pytest.raises(SystemExit) as ei:
        main(["-q", "run", str(spec), "--out", str(tmp_path / "run")])
    assert ei.value.code == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("Error: ")]
    assert len(err) == 1 and f"{spec}: epochs.0.scenes.0.stac: a STAC API search needs an area" in err[0], err
    assert not (tmp_path / "run").exists()


def test_out_to_a_bucket_that_refuses_is_bad_input(scene, s3, tmp_path, capsys, monkeypatch):
    """`--out` to a bucket that does not exist, or without credentials, stops before the run
    with one line naming the URL and exit 2 (bad input), not 1 (a failure)."""
    from sinks.cli import main

    for url, env in ((f"s3://no-such-{BUCKET}/runs/x", {}),
                     (f"s3://{BUCKET}/runs/nokeys", {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None})):
        with monkeypatch.context() as mp:
            for k, v in env.items():
                mp.delenv(k, raising=False)
            mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
            mp.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
            mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
            with pytest.raises(SystemExit) as ei:
                main(["-q", "run", str(scene["dir"] / "s3.yaml"), "--out", url])
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert ei.value.code == 2, err
        assert len(err) == 1 and err[0].startswith(f"Error: {url}: cannot list the bucket"), err
