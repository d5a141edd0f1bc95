"""Remote rasters: path forms, GDAL's network settings, open checks, and what workers inherit.

Tiles, STAC hrefs and other rasters may live in object storage or behind HTTP:

=====================  ==============================
given                  read by GDAL as
=====================  ==============================
``s3://b/k``           ``/vsis3/b/k``
``gs://b/k``           ``/vsigs/b/k``
``az://c/k``           ``/vsiaz/c/k``
``https://h/p``        ``/vsicurl/https://h/p``
``/vsis3/``, ``/vsigs/``, ``/vsiaz/``, ``/vsicurl/``  unchanged
=====================  ==============================

:func:`gdal_path` is the one place that maps them.  A remote file is never checked with
``os.stat``: :func:`check_raster` opens it with rasterio (one header read, remembered for
the process) and turns a failure into one line naming the path.

:func:`gdal_options` holds GDAL's settings for reading COGs over HTTP (no directory
listing on open, merged multi-range requests, retries, a block cache for the file
handles); the user's environment wins over each default.  Tasks take them as an
argument and apply them with ``rasterio.Env`` (:func:`in_env`), so a task on a
``dask.distributed`` worker reads with the same settings as the driver.  Credentials
and endpoints (``AWS_*``, ``GS_*``, ``AZURE_*``, GDAL configuration options) are read
from the environment by GDAL itself; :func:`forwarded_environment` collects the ones
set in the driver, and :func:`forward_to_workers` installs them in the environment of
every worker of a cluster, those that join later included.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
from typing import Any, Callable

from .errors import ConfigError, TileReadError, first_line

__all__ = [
    "REMOTE_SCHEMES",
    "is_remote",
    "gdal_path",
    "gdal_options",
    "task_options",
    "in_env",
    "forwarded_environment",
    "forward_to_workers",
    "check_raster",
    "exists",
    "stamp_key",
]

log = logging.getLogger("sinks")

#: URL schemes and the GDAL virtual file system prefix each maps to.
REMOTE_SCHEMES: dict[str, str] = {
    "s3://": "/vsis3/",
    "gs://": "/vsigs/",
    "az://": "/vsiaz/",
    "http://": "/vsicurl/http://",
    "https://": "/vsicurl/https://",
}
_VSI_NETWORK = ("/vsis3/", "/vsigs/", "/vsiaz/", "/vsiadls/", "/vsicurl/", "/vsioss/", "/vsiswift/",
                "/vsiwebhdfs/", "/vsihdfs/")

#: GDAL settings for reading Cloud-Optimized GeoTIFFs over HTTP; a value set in the
#: environment wins over each.
HTTP_DEFAULTS: dict[str, str] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",   # no listing of the "folder" at each open
    "GDAL_HTTP_MULTIRANGE": "YES",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "GDAL_HTTP_VERSION": "2",
    "GDAL_HTTP_MAX_RETRY": "5",
    "GDAL_HTTP_RETRY_DELAY": "1",
    "GDAL_HTTP_TIMEOUT": "60",
    "VSI_CACHE": "TRUE",
    "VSI_CACHE_SIZE": str(25 * 2**20),             # per open file handle
    "CPL_VSIL_CURL_CACHE_SIZE": str(128 * 2**20),  # headers and blocks shared by the process's handles
}

#: Environment variables that configure GDAL's network access without being secret:
#: sent with each task (see :func:`task_options`).
_ENDPOINT_VARS = ("AWS_S3_ENDPOINT", "AWS_HTTPS", "AWS_VIRTUAL_HOSTING", "AWS_NO_SIGN_REQUEST", "AWS_REGION",
                  "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_REQUEST_PAYER", "GS_NO_SIGN_REQUEST",
                  "AZURE_NO_SIGN_REQUEST", "AZURE_STORAGE_ACCOUNT", "CPL_CURL_VERBOSE", "GDAL_HTTP_UNSAFESSL",
                  "CURL_CA_BUNDLE", "SSL_CERT_FILE")
#: Prefixes of the environment variables forwarded to cluster workers (credentials included).
_FORWARDED_PREFIXES = ("AWS_", "GS_", "GOOGLE_APPLICATION_CREDENTIALS", "AZURE_", "GDAL_", "CPL_", "VSI_",
                       "CURL_CA_BUNDLE", "SSL_CERT_FILE", "OSS_", "SWIFT_")


def is_remote(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a remote object: a URL (``s3://``, ``https://`` ...) or a GDAL
    network path (``/vsis3/``, ``/vsicurl/`` ...)."""
    p = str(path)
    return p.startswith(tuple(REMOTE_SCHEMES)) or p.startswith(_VSI_NETWORK)


def gdal_path(path: str | os.PathLike) -> str:
    """The path GDAL opens for ``path``: ``s3://b/k`` → ``/vsis3/b/k`` and so on (see the
    module doc); local paths and ``/vsi...`` paths unchanged, ``file://`` stripped.

    Raises
    ------
    ConfigError
        A URL scheme GDAL cannot read here (``ftp://`` ...).
    """
    p = str(path)
    if p.startswith("file://"):
        return p[len("file://"):]
    for scheme, prefix in REMOTE_SCHEMES.items():
        if p.startswith(scheme):
            return prefix + p[len(scheme):]
    if "://" in p and not p.startswith("/"):
        raise ConfigError(f"{p}: unsupported URL scheme (use s3://, gs://, az://, https:// or a GDAL /vsi path)")
    return p


def url_of(path: str | os.PathLike) -> str:
    """The URL form of a GDAL path: ``/vsis3/b/k`` → ``s3://b/k``; other paths unchanged."""
    p = str(path)
    if p.startswith("/vsicurl/"):
        return p[len("/vsicurl/"):]
    for scheme, prefix in REMOTE_SCHEMES.items():
        if not prefix.startswith("/vsicurl/") and p.startswith(prefix):
            return scheme + p[len(prefix):]
    return p


def gdal_options() -> dict[str, str]:
    """GDAL's settings for this process: :data:`HTTP_DEFAULTS` with the environment's values
    winning, plus the endpoint settings the environment holds (``AWS_S3_ENDPOINT`` ...)."""
    opts = {k: os.environ.get(k, v) for k, v in HTTP_DEFAULTS.items()}
    opts.update({k: os.environ[k] for k in _ENDPOINT_VARS if os.environ.get(k)})
    return opts


def task_options(paths: Any = None) -> dict[str, str]:
    """The options a read task applies (:func:`in_env`): :func:`gdal_options` when any of
    ``paths`` is remote (or ``paths`` is ``None``), else nothing (local reads need none)."""
    if paths is not None and not any(is_remote(p) for p in paths):
        return {}
    return gdal_options()


def gdal_env(options: dict[str, Any] | None = None, **extra: Any) -> Any:
    """``rasterio.Env`` with ``options`` (default :func:`gdal_options`) and ``extra``.

    GDAL reads the credentials itself (environment variables, ``AWS_PROFILE`` and the
    ``~/.aws`` files, instance and web-identity roles), so the environment carries no
    rasterio session: rasterio would otherwise build a boto3 session at every entry
    (≈ 40 ms, once per block task).  Credential sources that only boto3 knows (SSO,
    ``credential_process``) need their keys exported to the environment.
    """
    import rasterio
    from rasterio.session import DummySession

    opts = gdal_options() if options is None else options
    return rasterio.Env(session=DummySession(), **opts, **extra)


def in_env(options: dict[str, str], func: Callable[..., Any], *args: Any) -> Any:
    """Task wrapper: ``func(*args)`` inside :func:`gdal_env` ``(options)`` (no wrapper when
    ``options`` is empty)."""
    if not options:
        return func(*args)
    with gdal_env(options):
        return func(*args)


def forwarded_environment() -> dict[str, str]:
    """The environment variables of this process that configure GDAL's network access and
    credentials (``AWS_*``, ``GS_*``, ``AZURE_*``, ``GDAL_*``, ``CPL_*``, ``VSI_*`` ...)."""
    return {k: v for k, v in os.environ.items() if k.startswith(_FORWARDED_PREFIXES)}


def forward_to_workers(client: Any, env: dict[str, str] | None = None) -> None:
    """Install ``env`` (default :func:`forwarded_environment`) in the environment of every
    worker of ``client``'s cluster, those that join later included (a worker plugin).

    Variables already set on a worker keep the worker's value only when ``env`` does not
    name them.  Nothing is done when ``env`` is empty.
    """
    env = forwarded_environment() if env is None else dict(env)
    if not env:
        return
    from distributed.diagnostics.plugin import WorkerPlugin

    class SinksEnvironment(WorkerPlugin):
        name = "sinks-environment"
        idempotent = False

        def __init__(self, values: dict[str, str]) -> None:
            self.values = values

        def setup(self, worker: Any) -> None:
            os.environ.update(self.values)

    client.register_plugin(SinksEnvironment(env), name="sinks-environment")
    log.debug("forwarded %d environment variable(s) to the cluster's workers", len(env))


# --------------------------------------------------------------------------------------
# open checks
# --------------------------------------------------------------------------------------
_CHECKED: collections.OrderedDict[str, str | None] = collections.OrderedDict()
_CHECKED_LOCK = threading.Lock()


def check_raster(path: str | os.PathLike) -> str:
    """Open a remote raster's header with GDAL; return its GDAL path.

    The result (success or the error) is remembered for the process, so a spec check and
    the header inspection that follows open it once.

    Raises
    ------
    TileReadError
        It cannot be opened: one line naming the path and GDAL's reason.
    """
    p = gdal_path(path)
    with _CHECKED_LOCK:
        if p in _CHECKED:
            err = _CHECKED[p]
            if err is not None:
                raise TileReadError(err)
            return p
    import rasterio

    err = None
    try:
        with gdal_env(), rasterio.open(p):
            pass
    except Exception as exc:  # noqa: BLE001 - GDAL raises several types
        err = f"{path}: cannot open remote raster ({first_line(exc)})"
    with _CHECKED_LOCK:
        _CHECKED[p] = err
        while len(_CHECKED) > 4096:
            _CHECKED.popitem(last=False)
    if err is not None:
        raise TileReadError(err)
    return p


def exists(path: str | os.PathLike) -> bool:
    """Whether ``path`` can be opened: a local file exists, or a remote raster opens."""
    if not is_remote(path):
        return os.path.exists(str(path))
    try:
        check_raster(path)
    except TileReadError:
        return False
    return True


def stamp_key(path: str | os.PathLike) -> tuple[Any, ...] | None:
    """What identifies a file's version for caches: size, times and inode of a local file
    (``None`` when it is missing), the path alone for a remote object."""
    p = str(path)
    if is_remote(p):
        return (gdal_path(p),)
    from .runtime.hashcache import stamp

    try:
        return (p, *stamp(os.stat(p)))
    except OSError:
        return None


def version_token(path: str | os.PathLike) -> Any:
    """A token that changes when a local file is rewritten (its modification time); the
    GDAL path for a remote object."""
    p = str(path)
    return gdal_path(p) if is_remote(p) else os.path.getmtime(p)


# --------------------------------------------------------------------------------------
# provenance
# --------------------------------------------------------------------------------------
def s3_client() -> Any:
    """A boto3 S3 client configured from the same environment GDAL reads: ``AWS_S3_ENDPOINT``
    (with ``AWS_HTTPS=NO`` for plain HTTP), ``AWS_NO_SIGN_REQUEST``, ``AWS_PROFILE`` and the
    usual credential chain.

    Raises
    ------
    ConfigError
        boto3 is not installed (``pip install 'sinks[cloud]'``).
    """
    try:
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config
    except ImportError:
        raise ConfigError("object storage needs boto3 (pip install 'sinks[cloud]')") from None
    endpoint = os.environ.get("AWS_S3_ENDPOINT")
    url = None
    if endpoint:
        https = os.environ.get("AWS_HTTPS", "YES").upper() not in ("NO", "FALSE", "0", "OFF")
        url = endpoint if "://" in endpoint else f"{'https' if https else 'http'}://{endpoint}"
    virtual = os.environ.get("AWS_VIRTUAL_HOSTING", "TRUE").upper() not in ("NO", "FALSE", "0", "OFF")
    unsigned = os.environ.get("AWS_NO_SIGN_REQUEST", "NO").upper() in ("YES", "TRUE", "1", "ON")
    cfg = Config(signature_version=UNSIGNED if unsigned else None,
                 s3={"addressing_style": "virtual" if virtual and not endpoint else "path"},
                 retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=60)
    session = boto3.session.Session(profile_name=os.environ.get("AWS_PROFILE") or None)
    return session.client("s3", endpoint_url=url, config=cfg,
                          region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None)


def split_s3(path: str | os.PathLike) -> tuple[str, str]:
    """``(bucket, key)`` of ``s3://bucket/key`` or ``/vsis3/bucket/key``."""
    url = url_of(gdal_path(path))
    if not url.startswith("s3://"):
        raise ConfigError(f"{path}: not an s3:// path")
    bucket, _, key = url[len("s3://"):].partition("/")
    return bucket, key


def describe(path: str | os.PathLike, *, timeout: float = 10.0) -> dict[str, Any]:
    """What identifies a remote object without reading it: ``{"path", "remote", "bytes",
    "etag", "modified"}`` from one ``HEAD`` request (S3 through boto3, HTTP(S) through
    urllib); other schemes, or a failed request, by path with a ``note``."""
    p = str(path)
    entry: dict[str, Any] = {"path": p, "remote": True}
    g = gdal_path(p)
    try:
        if g.startswith("/vsis3/"):
            bucket, key = split_s3(g)
            head = s3_client().head_object(Bucket=bucket, Key=key)
            entry.update(bytes=int(head["ContentLength"]), etag=str(head.get("ETag", "")),
                         modified=head["LastModified"].isoformat() if head.get("LastModified") else "")
            return entry
        url = url_of(g)
        if not url.startswith(("http://", "https://")):
            entry["note"] = "content not read: described by its path"
            return entry
        import urllib.request

        req = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (the user's own input URL)
            h = resp.headers
        if h.get("Content-Length") is not None:
            entry["bytes"] = int(h["Content-Length"])
        for k, name in (("etag", "ETag"), ("modified", "Last-Modified")):
            if h.get(name):
                entry[k] = h[name]
    except ConfigError as exc:
        entry["note"] = str(exc)
    except Exception as exc:  # noqa: BLE001 - network and client errors: recorded, not fatal
        entry["note"] = f"HEAD request failed: {first_line(exc)}"
    return entry
