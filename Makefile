# dreg-book: `make book` builds the book, `make test` runs every test. Both set up .venv first.
PYTHON  ?= python3
PROFILE ?= default
# Notebooks executed side by side by `make book` (JOBS=2: two at a time, each kernel on its share of the cores).
JOBS    ?= 2
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.md))
# The book's sources (_config.yml, _toc.yml, book/) and its executed notebooks; `make smoke-book`
# builds from a copy in $(SMOKE)/src, so the main book's book/executed is never touched.
BOOK_SRC  ?= .
EXECUTED   = $(if $(filter .,$(BOOK_SRC)),,$(BOOK_SRC)/)book/executed
BOOK_OUT  ?= .
SMOKE     := _build/smoke-book
# The oldest Python the code runs on (tomllib, contextlib.chdir); pyproject's requires-python says the same.
MIN_PYTHON := 3.11
PIP := $(BIN)/python -m pip -q --disable-pip-version-check
# pip's notes about this machine's unreachable local indexes are noise; keep pip's exit status.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
QUIET := 2>&1 | { grep -v "is ignored" || true; }
comma := ,

.PHONY: book smoke-book pdf test browser-test bench clean system-deps constraints

$(STAMP): pyproject.toml
	@$(PYTHON) -c "import sys; v = sys.version_info; sys.exit(v[:2] < ($(subst .,$(comma),$(MIN_PYTHON))) and \
	  'make: $(PYTHON) is Python %d.%d; dreg-book needs Python $(MIN_PYTHON) or newer (e.g. make PYTHON=python$(MIN_PYTHON))' % v[:2])"
	$(PYTHON) -m venv $(VENV)
	# The machines here ship a CPU build of torch 2.13.0; elsewhere pip takes PyPI's build.
	$(PIP) install "torch==2.13.0" $(QUIET) || $(PIP) install torch $(QUIET)
	# The library and the optional groups the book, the tests and the Dask backend need.
	$(PIP) install -e ".[book,test,dask]" $(QUIET)
	$(BIN)/python -c "import dreg_utils, torch, gplearn, papermill, nbval, jupyter_book, distributed"
	touch $(STAMP)

# Debian packages used when apt is available (as root); without them the chapters fall back
# to other data sources. dataset-fashion-mnist: the full Fashion-MNIST IDX files;
# chromium: the headless browser of the browser test (tests/browser, skipped without it).
APT_PACKAGES := dataset-fashion-mnist chromium
system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	    || echo "warning: could not install $$missing; chapters will use their fallbacks"; \
	else echo "apt-get not available (or not root): skipping $$missing"; fi

# The kernels run in the repository root; their CSV downloads go beside the executed notebooks.
book: $(STAMP) system-deps
	rm -rf $(EXECUTED)
	DREG_DOWNLOADS_DIR=$(abspath $(EXECUTED))/data \
	  $(BIN)/python -m dreg_utils.book.runner $(NOTEBOOKS) --out $(EXECUTED) --profile $(PROFILE) --jobs $(JOBS)
	$(BIN)/jupyter-book build $(BOOK_SRC) -W -n --keep-going --path-output $(BOOK_OUT)
	@echo "book: $(BOOK_OUT)/_build/html/index.html"

# The smoke book of `make test`, in $(SMOKE)/_build/html: the book's sources are copied to
# $(SMOKE)/src (all but book/executed) and its notebooks run there, beside (not over) the main book.
smoke-book: $(STAMP) system-deps
	rm -rf $(SMOKE)/src && mkdir -p $(SMOKE)/src/book
	cp -r _config.yml _toc.yml _static constraints.txt $(SMOKE)/src/
	for f in book/*; do [ "$$f" = book/executed ] || cp -r "$$f" $(SMOKE)/src/book/; done
	$(MAKE) --no-print-directory book PROFILE=smoke BOOK_SRC=$(SMOKE)/src BOOK_OUT=$(SMOKE)

# One PDF of the built book (run `make book` first): headless Chromium prints each page, pypdf joins them.
# Without Chromium it fails; PDF_FLAGS=--skip-without-chromium (make test) makes it a one-line skip.
pdf: $(STAMP) system-deps
	$(BIN)/python -m dreg_utils.book.pdf --html $(BOOK_OUT)/_build/html --out $(BOOK_OUT)/_build/pdf/book.pdf $(PDF_FLAGS)

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q tests --ignore=tests/browser
	rm -rf _build/nbval && mkdir -p _build/nbval
	for nb in $(NOTEBOOKS); do $(BIN)/jupytext -q --to ipynb -o _build/nbval/$$(basename $$nb .md).ipynb $$nb; done
	DREG_PROFILE=smoke DREG_RESULTS_DIR=$(CURDIR)/_build/nbval/results \
	  $(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg _build/nbval/*.ipynb
	DREG_RESULTS_DIR=$(CURDIR)/_build/nbval/results $(MAKE) --no-print-directory smoke-book
	$(MAKE) --no-print-directory pdf BOOK_OUT=$(SMOKE) PDF_FLAGS=--skip-without-chromium
	$(MAKE) --no-print-directory browser-test

# Headless Chromium opens every page of the smoke book; screenshots go to _build/screenshots.
# Without Chromium the step says so in one line, as make test's PDF step does.
browser-test: $(STAMP)
	@why=$$($(BIN)/python -c "from dreg_utils.book.pdf import CHROMIUM_MISSING, find_chromium; \
	  print('' if find_chromium() else CHROMIUM_MISSING)") || exit 1; \
	if [ -n "$$why" ]; then echo "browser test: skipped ($$why)"; else \
	  echo "browser test: pytest tests/browser on $(SMOKE)/_build/html"; \
	  DREG_BOOK_HTML=$(CURDIR)/$(SMOKE)/_build/html $(BIN)/python -m pytest -q -p no:cacheprovider tests/browser; fi

# Saves its tables to benchmarks/results, which the performance chapter reads.
# bench_sweep.py --full also trains the whole MNIST sweep (about 20 minutes on 2 cores).
bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script --out benchmarks/results || exit 1; done

# constraints.txt: the versions of every listed package in .venv (the reproducibility chapter
# shows it); rewrite it after a change of versions, then rebuild the book.
constraints: $(STAMP)
	$(BIN)/python -m dreg_utils.book.constraints --out constraints.txt

clean:
	rm -rf _build $(EXECUTED) results
