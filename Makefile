# Two commands do all the set-up: `make demo` runs the kit end to end, `make test` runs every test.
# Both create the virtual environment .venv on first use (and again when pyproject.toml changes).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench train-cpu venv clean

# The five notebooks in order on the CPU (synthetic faces, the cpu training preset); executed copies in demo/.
demo: $(STAMP)
	$(PY) -m faceparse_lib notebooks run --out demo/notebooks

# Unit tests, then every notebook top to bottom with CI's short settings: on the synthetic demo set (2022 layout),
# then as a student of 2026 meets them, from three synthetic hand-out zips in a Drive-like folder, challenge rules.
HANDOUT_CI := $(CURDIR)/runs/ci-handout
test: $(STAMP)
	$(PY) -m pytest
	FACEPARSE_QUICK=1 $(PY) -m pytest --nbmake notebooks
	rm -rf $(HANDOUT_CI)
	$(PY) -m faceparse_lib synth --handout $(HANDOUT_CI)/drive/AI6126 --train 24 --val 8 --test 4 --size 128
	FACEPARSE_QUICK=1 FACEPARSE_HOME=$(HANDOUT_CI) FACEPARSE_DATA=$(HANDOUT_CI)/drive $(PY) -m pytest --nbmake notebooks

# The cpu preset's measured claim: default synthetic set (200 + 50 faces at 512 px), a fresh run, wall time.
train-cpu: $(STAMP)
	test -d runs/synth-default || $(PY) -m faceparse_lib synth runs/synth-default
	rm -rf runs/cpu-check
	$(PY) -m faceparse_lib train --preset cpu --data-root runs/synth-default --run-dir runs/cpu-check

bench: $(STAMP)
	$(PY) -m faceparse_lib bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "faceparse needs Python >= 3.10; set PYTHON=python3.x")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf demo .pytest_cache runs/cpu-check
