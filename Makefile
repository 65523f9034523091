# dreg-book: `make book` builds the book, `make test` runs every test. Both set up .venv first.
PYTHON  ?= python3
PROFILE ?= default
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.md))
EXECUTED  := book/executed
PIP := $(BIN)/python -m pip -q --disable-pip-version-check

.PHONY: book test bench clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# The machines here ship a CPU build of torch 2.13.0; elsewhere pip takes PyPI's build.
	$(PIP) install "torch==2.13.0" 2>&1 | grep -v "is ignored" || $(PIP) install torch
	$(PIP) install -e . 2>&1 | grep -v "is ignored" || true
	$(BIN)/python -c "import dreg_utils, torch, gplearn, papermill, nbval, jupyter_book"
	touch $(STAMP)

# Debian packages some chapters use when apt is available (root): none are required.
system-deps:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  true; \
	else echo "apt-get not available: skipping system packages"; fi

book: $(STAMP) system-deps
	rm -rf $(EXECUTED)
	$(BIN)/python -m dreg_utils.notebooks $(NOTEBOOKS) --out $(EXECUTED) --profile $(PROFILE)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "book: _build/html/index.html"

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q tests
	rm -rf _build/nbval && mkdir -p _build/nbval
	for nb in $(NOTEBOOKS); do $(BIN)/jupytext -q --to ipynb -o _build/nbval/$$(basename $$nb .md).ipynb $$nb; done
	DREG_PROFILE=smoke DREG_RESULTS_DIR=$(CURDIR)/_build/nbval/results \
	  $(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg _build/nbval/*.ipynb
	DREG_RESULTS_DIR=$(CURDIR)/_build/nbval/results $(MAKE) --no-print-directory book PROFILE=smoke

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script; done

clean:
	rm -rf _build $(EXECUTED) results
