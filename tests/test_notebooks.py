"""The notebooks in notebooks/ run top to bottom (nbclient, the venv's python3 kernel)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb")))
def test_notebook_runs(name, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    monkeypatch.setenv("SINKS_REPO", str(REPO))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend: figures in the outputs
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors
    # no warnings (with their source lines) or other stderr text in the cells' outputs
    stderr = [o["text"] for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    assert not stderr, stderr
    # every figure cell drew a figure
    for c in nb.cells:
        if c.cell_type == "code" and "fig = " in c.source:  # shown by the inline backend or as the cell's value
            assert any("image/png" in o.get("data", {}) for o in c.get("outputs", [])), c.source
