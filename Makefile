# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv with python3 -m venv and installs the package with pip when
# .venv is missing or pyproject.toml changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.sinks-installed
EXTRAS ?= dev,viz,distributed,postgis

.PHONY: demo test test-all bench sample-data clean-runs notebooks

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sinks run pipelines/demo.yaml --out runs/demo --overwrite
	@if $(BIN)/sinks --help | grep -q ' report '; then \
		$(BIN)/sinks report runs/demo -o runs/demo/report.html --overwrite && \
		echo "report: runs/demo/report.html"; fi

# JupyterLab on notebooks/ (installs the notebooks extra into .venv first)
notebooks: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[notebooks,viz]'
	$(BIN)/jupyter lab notebooks/

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m "slow or not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# Regenerate the committed sample data (deterministic: same seed, same files).
sample-data: $(STAMP)
	$(BIN)/sinks sample-data sample_rasters --aoi-dir aoi --overwrite

clean-runs:
	rm -rf runs
