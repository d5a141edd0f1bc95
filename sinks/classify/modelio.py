"""Model files that cannot run code when loaded.

A sinks model is a zip holding ``model.skops`` (the scikit-learn estimator, written
with ``skops.io``) and ``meta.json`` (format name and version, feature names, band
roles, sensor, number of acquisitions, legend, model type, cross-validated accuracy,
sample counts, sinks version, creation time).  Loading checks the container, refuses
pickles outright (they are recognised by their opcode header and never opened with
``pickle``), and lets ``skops.io`` rebuild only an explicit list of trusted types.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelError, first_line

__all__ = ["SinksModel", "save_model", "load_model", "FORMAT", "VERSION", "TRUSTED_TYPES"]

FORMAT = "sinks-model"
VERSION = 1

#: Largest ``meta.json`` read from a model file (a real one is a few KB).
META_MAX_BYTES = 1 << 20

#: The only types skops may rebuild from a sinks model file.
TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss._loss.CyHalfMultinomialLoss",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn.utils._bunch.Bunch",
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.uint8",
    "numpy.random.mtrand.RandomState",
    "builtins.slice",
    "collections.OrderedDict",
)


@dataclass
class SinksModel:
    """A trained classifier and what it needs to be applied safely."""

    estimator: Any
    meta: dict[str, Any] = field(default_factory=dict)


def save_model(model: SinksModel, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``model`` atomically as a sinks model file."""
    import skops.io as sio

    from .. import __version__
    from ..outputs import atomic_path

    meta = {"format": FORMAT, "version": VERSION, "sinks_version": __version__,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **model.meta}
    with atomic_path(path, overwrite=overwrite) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("meta.json", json.dumps(meta, indent=2, ensure_ascii=False))
            zf.writestr("model.skops", sio.dumps(model.estimator))
    return Path(path)


def _looks_like_pickle(head: bytes) -> bool:
    # protocol 2+ starts with PROTO (0x80) and the protocol number; protocols 0/1 with an opcode + text
    return (len(head) >= 2 and head[0] == 0x80 and head[1] <= 5) or head[:1] in (b"(", b"c", b"}", b"]")


def _check_meta(meta: Any, p: Path) -> None:
    """Raise :class:`ModelError` naming the key when ``meta.json`` lacks what applying the model needs."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{p}: not a sinks model file (format {meta.get('format') if isinstance(meta, dict) else None!r})")
    if meta.get("version") != VERSION:
        raise ModelError(f"{p}: model format version {meta.get('version')} is not supported (expected {VERSION})")
    roles = meta.get("roles")
    if "roles" not in meta:
        raise ModelError(f"{p}: meta.json has no 'roles' (the band roles the model was trained on)")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) and r for r in roles):
        raise ModelError(f"{p}: meta.json 'roles' must be a list of band roles (blue, green, ...), got {roles!r}")
    n = meta.get("n_dates")
    if "n_dates" not in meta:
        raise ModelError(f"{p}: meta.json has no 'n_dates' (the number of acquisitions the model was trained on)")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ModelError(f"{p}: meta.json 'n_dates' must be a positive integer, got {n!r}")
    for key, kind in (("sensor", str), ("texture", bool)):
        if meta.get(key) is not None and not isinstance(meta[key], kind):
            raise ModelError(f"{p}: meta.json {key!r} must be a {kind.__name__}, got {meta[key]!r}")


def load_model(path: str | os.PathLike) -> SinksModel:
    """Read a sinks model file; :class:`ModelError` (one line naming the file) on anything else."""
    import skops.io as sio

    p = Path(path)
    if not p.exists():
        raise ModelError(f"{p}: model file not found")
    head = p.read_bytes()[:4]
    if _looks_like_pickle(head):
        raise ModelError(f"{p}: looks like a pickle file; sinks never unpickles models (train one with `sinks train`)")
    if not zipfile.is_zipfile(p):
        raise ModelError(f"{p}: not a sinks model file (expected a zip written by `sinks train`)")
    try:
        with zipfile.ZipFile(p) as zf:
            names = set(zf.namelist())
            if not {"meta.json", "model.skops"} <= names:
                raise ModelError(f"{p}: not a sinks model file (meta.json / model.skops missing)")
            size = zf.getinfo("meta.json").file_size
            if size > META_MAX_BYTES:
                raise ModelError(f"{p}: meta.json is {size:,} bytes, more than the {META_MAX_BYTES:,} a model's "
                                 "metadata can take; not a sinks model file")
            with zf.open("meta.json") as fh:
                raw = fh.read(META_MAX_BYTES + 1)
            if len(raw) > META_MAX_BYTES:  # pragma: no cover - zipfile stops at the declared size
                raise ModelError(f"{p}: meta.json is larger than {META_MAX_BYTES:,} bytes")
            meta = json.loads(raw.decode("utf-8"))
            _check_meta(meta, p)
            blob = zf.read("model.skops")
    except ModelError:
        raise
    except (zipfile.BadZipFile, ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"{p}: damaged model file ({exc})") from None
    try:
        untrusted = [t for t in sio.get_untrusted_types(data=blob) if t not in TRUSTED_TYPES]
    except Exception as exc:  # noqa: BLE001 - skops raises several types on bad input
        raise ModelError(f"{p}: damaged model (skops: {first_line(exc)})") from None
    if untrusted:
        raise ModelError(f"{p}: refuses to load untrusted types {', '.join(untrusted[:5])}")
    try:
        est = sio.loads(blob, trusted=list(TRUSTED_TYPES))
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{p}: cannot load the model ({first_line(exc)})") from None
    return SinksModel(est, meta)
