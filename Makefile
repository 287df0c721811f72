# Two commands do all the set-up: `make demo` runs the kit end to end, `make test` runs every test.
# Both create the virtual environment .venv on first use (and again when pyproject.toml changes).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench venv sync-notebooks clean

demo: $(STAMP)
	$(PY) -m faceparse_lib demo --out demo

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m faceparse_lib bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "faceparse needs Python >= 3.10; set PYTHON=python3.x")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf demo .pytest_cache
