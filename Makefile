# Everything a fresh machine needs is installed from here: the virtualenv, the package, and the
# Debian packages the browser tests drive (Chromium). Nothing is downloaded at run time.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit install system-deps bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the console's browser tests (Playwright drives /usr/bin/chromium).
system-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

demo: $(STAMP)
	$(BIN)/andon demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

unit: $(STAMP)
	$(BIN)/pytest

test: $(STAMP) system-deps lint typecheck unit

# Speed and quality figures (minutes to tens of minutes; not part of `make test`).
bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/simulate.py
	$(BIN)/python benchmarks/analysis.py
	$(BIN)/python benchmarks/friction_quality.py
	$(BIN)/python benchmarks/themes.py
	$(BIN)/python benchmarks/tickets.py
	$(BIN)/python benchmarks/rca_quality.py
	$(BIN)/python benchmarks/console_pages.py

clean:
	rm -rf $(VENV) .andon .mypy_cache .ruff_cache build *.egg-info
