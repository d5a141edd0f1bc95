# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv with python3 -m venv and installs the package with pip when
# .venv is missing or pyproject.toml changed, then compiles the numba kernels into
# numba's cache (so the first run does not).  `make test-py312` does the same in
# .venv312 with Python 3.12 (pyenv's, else python3.12 on PATH); .ci/run runs both.
# demo, test and bench also byte-compile sinks' own modules (new or changed ones only): the
# package is installed editable, so pip does not, and with PYTHONDONTWRITEBYTECODE set
# every process (each run's table child too) would compile them from source again.
PYTHON    ?= python3
PYTHON312 ?= $(shell PYENV_VERSION=3.12 pyenv which python 2>/dev/null || command -v python3.12)
VENV      := .venv
VENV312   := .venv312
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.sinks-installed
STAMP312  := $(VENV312)/.sinks-installed
EXTRAS    ?= dev,viz,distributed,postgis,cloud

.PHONY: demo test test-py312 test-all bench sample-data clean-runs notebooks

# $(call install,VENV,PYTHON): the venv (made with PYTHON when missing) with sinks and EXTRAS
define install
	@test -x $(1)/bin/python || { test -n "$(2)" || { echo "no $(1) interpreter: set PYTHON or PYTHON312" >&2; exit 1; }; \
		$(2) -m venv $(1); }
	$(1)/bin/python -m pip install --quiet --upgrade pip
	$(1)/bin/python -m pip install --quiet -e '.[$(EXTRAS)]'
	$(1)/bin/python -m sinks._kernels.warm
	@touch $(1)/.sinks-installed
endef

$(STAMP): pyproject.toml
	$(call install,$(VENV),$(PYTHON))

$(STAMP312): pyproject.toml
	$(call install,$(VENV312),$(PYTHON312))

demo: $(STAMP)
	@$(BIN)/python -m compileall -q sinks >/dev/null
	$(BIN)/sinks run pipelines/demo.yaml --out runs/demo --overwrite
	@if $(BIN)/sinks --help | grep -q ' report '; then \
		$(BIN)/sinks report runs/demo -o runs/demo/report.html --overwrite && \
		echo "report: runs/demo/report.html"; fi

# JupyterLab on notebooks/ (installs the notebooks extra into .venv first)
notebooks: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[notebooks,viz]'
	$(BIN)/jupyter lab notebooks/

test: $(STAMP)
	@$(BIN)/python -m compileall -q sinks >/dev/null
	$(BIN)/python -m pytest -q

test-py312: $(STAMP312)
	@$(VENV312)/bin/python -m compileall -q sinks >/dev/null
	$(VENV312)/bin/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m "slow or not slow"

bench: $(STAMP)
	@$(BIN)/python -m compileall -q sinks >/dev/null
	$(BIN)/python benchmarks/run_all.py

# Regenerate the committed sample data (deterministic: same seed, same files).
sample-data: $(STAMP)
	$(BIN)/sinks sample-data sample_rasters --aoi-dir aoi --overwrite

clean-runs:
	rm -rf runs
