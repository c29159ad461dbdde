# Two entry points do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install demo test bench bench-scale lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/cooc demo

test: install
	$(PY) -m pytest -q

$(VENV)/.bench-installed: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	touch $@

# make bench BENCH_ARGS=--quick  (1M-token subset); see benchmarks/README.md
bench: $(VENV)/.bench-installed
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

# end-to-end runs on synthetic corpora of 10M and 100M tokens and the shared corpus;
# make bench-scale BENCH_ARGS="--glove-dir DIR" adds GloVe; see benchmarks/README.md
bench-scale: $(VENV)/.bench-installed
	$(PY) benchmarks/bench_scale.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
