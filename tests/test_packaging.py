"""environment.yml and pyproject.toml declare the same dependencies with the same bounds."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_for(python: str) -> dict[str, str]:
    """Every requirement of the package and its extras that applies on ``python``: name -> bounds."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    out: dict[str, str] = {}
    for text in reqs:
        req = Requirement(text)
        if req.name == project["name"]:  # an extra made of other extras
            continue
        if req.marker is not None and not req.marker.evaluate({"python_version": python}):
            continue
        name = req.name  # "dask[array]" is conda's "dask", "psycopg[binary]" its "psycopg"
        assert out.get(name, str(req.specifier)) == str(req.specifier), f"{name}: two bounds in pyproject.toml"
        out[name] = str(req.specifier)
    return out


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    specs = [d for d in env["dependencies"] if isinstance(d, str)]
    python = next(s.split("=", 1)[1] for s in specs if s.startswith("python="))
    conda: dict[str, str] = {}
    for text in specs:
        if text.startswith("python=") or text == "pip":
            continue
        req = Requirement(text)
        conda[req.name] = str(req.specifier)
    want = _pyproject_for(python)
    assert conda == want

