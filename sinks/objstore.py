"""Run outputs in object storage: ``sinks run SPEC --out s3://bucket/prefix``.

The run writes into a local staging folder (``SINKS_STAGING_DIR`` or the system's
temporary folder; on a multi-node cluster it must be a file system every worker
reaches, as for a local ``--out``), exactly as a local run does; then each file is
uploaded under ``prefix/`` with its path relative to the folder.  An S3 ``PUT`` (or a
multipart upload, for large files) makes an object visible only once it is complete, so
no partial object ever appears under a final key.  The order makes the manifest the
commit record of the run:

1. an existing ``prefix/manifest.json`` is deleted first (with ``overwrite``), so no
   manifest describes a prefix while its objects are being replaced;
2. every output (COGs, tables, STAC catalog, report, run marker) is uploaded;
3. ``summary.json``, then ``manifest.json`` last;
4. objects of an earlier run under the prefix that this run did not write are deleted.

A run that fails uploads nothing (the staging folder is removed); an upload that fails
half-way leaves objects without a ``manifest.json``: the prefix then holds no complete
run, and ``--overwrite`` replaces it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError, OutputExistsError, OutputWriteError

__all__ = ["is_object_url", "split_url", "run_via_staging", "upload_folder"]

log = logging.getLogger("sinks")

#: Files of a run folder that are never uploaded (the folder lock, temporary parts).
_SKIP = (".sinks-run.lock",)
#: Uploaded after everything else, in this order.
_LAST = ("summary.json", "manifest.json")


def is_object_url(out: Any) -> bool:
    """Whether ``out`` names a location in object storage (``s3://``, ``/vsis3/``, ``gs://``, ``az://``)."""
    return isinstance(out, str) and out.startswith(("s3://", "/vsis3/", "gs://", "/vsigs/", "az://", "/vsiaz/"))


def split_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix`` (no trailing slash on the prefix).

    Raises
    ------
    ConfigError
        Not an ``s3://`` location (Google Cloud Storage and Azure outputs are not written
        yet), or no prefix.
    """
    from .remote import gdal_path, url_of

    u = url_of(gdal_path(url))
    if not u.startswith("s3://"):
        raise ConfigError(f"--out {url}: outputs are written to s3:// object storage or a folder "
                          "(gs:// and az:// outputs are not supported yet)")
    bucket, _, prefix = u[len("s3://"):].partition("/")
    prefix = prefix.strip("/")
    if not bucket or not prefix:
        raise ConfigError(f"--out {url}: give a bucket and a prefix (s3://bucket/prefix)")
    return bucket, prefix


#: S3 error codes that mean the destination is misconfigured (credentials, bucket name, rights).
_REFUSED_CODES = frozenset({"NoSuchBucket", "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId",
                            "SignatureDoesNotMatch", "InvalidBucketName", "ExpiredToken", "InvalidToken"})


def _refused(exc: BaseException) -> bool:
    """Whether an S3 error is the caller's configuration (no or wrong credentials, no such
    bucket, no right to list it) rather than a failure of the service or the network."""
    if type(exc).__name__ in ("NoCredentialsError", "PartialCredentialsError", "ParamValidationError"):
        return True
    code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
    return code in _REFUSED_CODES


def _existing(client: Any, bucket: str, prefix: str, url: str) -> list[str]:
    """Keys under ``prefix/`` (raises a one-line error when the bucket cannot be listed)."""
    keys: list[str] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
            keys.extend(o["Key"] for o in page.get("Contents", []))
    except Exception as exc:  # noqa: BLE001 - botocore's ClientError, EndpointConnectionError ...
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        if _refused(exc):  # the user's credentials or bucket name: bad input (exit 2)
            raise ConfigError(f"{url}: cannot list the bucket ({text})") from None
        raise OutputWriteError(f"{url}: cannot list the bucket ({text})") from None
    return keys


def upload_folder(folder: Path, *, client: Any, bucket: str, prefix: str, url: str,
                  old: list[str] | None = None, threads: int = 8) -> list[str]:
    """Upload every file of ``folder`` under ``prefix/`` (see the module doc for the order);
    return the keys written."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in _SKIP and ".part-" not in p.name)
    rel = {p: p.relative_to(folder).as_posix() for p in files}
    last = [p for name in _LAST for p in files if rel[p] == name]
    first = [p for p in files if p not in last]

    def put(p: Path) -> str:
        key = f"{prefix}/{rel[p]}"
        try:
            client.upload_file(str(p), bucket, key)
        except Exception as exc:  # noqa: BLE001
            text = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise OutputWriteError(f"{url}/{rel[p]}: upload failed ({text})") from None
        return key

    if old and f"{prefix}/manifest.json" in old:  # no manifest while the objects are replaced
        client.delete_object(Bucket=bucket, Key=f"{prefix}/manifest.json")
    with ThreadPoolExecutor(max_workers=threads) as ex:
        keys = list(ex.map(put, first))
    keys += [put(p) for p in last]
    stale = sorted(set(old or ()) - set(keys))
    for k in range(0, len(stale), 1000):
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in stale[k:k + 1000]]})
    log.info("uploaded %d object(s) to %s", len(keys), url)
    return keys


def run_via_staging(url: str, *, overwrite: bool, run: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """``run(staging_folder)`` then upload the folder under ``url`` (see the module doc).

    Raises
    ------
    OutputExistsError
        ``url`` already holds objects and ``overwrite`` is false (checked before the run).
    """
    from .remote import s3_client

    bucket, prefix = split_url(url)
    client = s3_client()
    old = _existing(client, bucket, prefix, url)
    if old and not overwrite:
        raise OutputExistsError(f"{url}: holds {len(old)} object(s); pass --overwrite to replace them")
    base = os.environ.get("SINKS_STAGING_DIR") or None
    if base:
        Path(base).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="sinks-stage-", dir=base))
    try:
        summary = run(staging / "run")
        upload_folder(staging / "run", client=client, bucket=bucket, prefix=prefix, url=url, old=old)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    summary["out"] = f"s3://{bucket}/{prefix}"
    return summary
