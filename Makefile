# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export ECARD_PORT ?= 8000
export ECARD_INSTANCE_DIR ?= $(CURDIR)/instance
export ECARD_SAMPLE_PORT ?= 8001
PYTEST_ARGS ?=

.PHONY: install run sample test lint typecheck pytest bench test-slow demo clean

$(UV):
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet --user uv || \
	  python3 -m pip install --quiet --break-system-packages --user uv

install: $(UV)
	$(UV) sync --frozen --quiet
	@# The browser tests (tests/web) drive Debian's Chromium; without it they skip.
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "note: /usr/bin/chromium missing (needs root and apt-get): browser tests will skip"; \
	  fi; \
	fi

run: install
	$(UV) run ecard init
	$(UV) run ecard demo load
	$(UV) run ecard serve --port $(ECARD_PORT)

# The backend, the callback worker and the sample channel server (samples/), Ctrl-C stops all.
sample: install
	$(UV) run ecard init
	$(UV) run ecard demo load
	$(UV) run python -m samples.channel_server.register \
	  --callback-url http://127.0.0.1:$(ECARD_SAMPLE_PORT)/callbacks
	$(UV) run python -m samples.run

lint: install
	$(UV) run ruff check ecard channel_adapters sdk tests samples
	$(UV) run mypy

pytest: install
	$(UV) run python -m pytest $(PYTEST_ARGS)

test: install lint pytest

test-slow: install
	$(UV) run python -m pytest -m slow $(PYTEST_ARGS)

bench: install
	mkdir -p bench
	$(UV) run python -m pytest -m bench -p no:randomly tests/bench $(PYTEST_ARGS)

clean:
	rm -rf instance .pytest_cache .mypy_cache .ruff_cache
