# Two commands do everything on a fresh clone: `make demo` and `make test`.
# Both set up the virtual environment from requirements.lock first when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synthpriv-installed
# The CPU build of torch ships on these machines as a wheel; pip finds it here.
WHEELS ?= /opt/wheels
FIND_LINKS := $(if $(wildcard $(WHEELS)),--find-links $(WHEELS),)

.PHONY: setup system-deps demo test test-fast bench bench-full clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, so pip takes the CPU build and skips the CUDA wheels.
	$(BIN)/pip install -q $(FIND_LINKS) torch==2.13.0
	$(BIN)/pip install -q $(FIND_LINKS) -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/pip check
	touch $@

# Integration tests start a real PostgreSQL server (Debian's package) on loopback.
system-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	  else \
	    echo "PostgreSQL server binaries are missing: sudo apt-get install postgresql" >&2; exit 1; \
	  fi; \
	fi
	@# The report render test opens both HTML reports in headless Chromium (Debian's package).
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "chromium is missing (the report render test skips): sudo apt-get install chromium" >&2; \
	  fi; \
	fi

demo: $(STAMP)
	$(BIN)/synthpriv demo

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(STAMP) system-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m bench.run

# Every synthesizer at every size and the 1M and 10M row releases: hours; not part of CI.
bench-full: $(STAMP)
	$(BIN)/python -m bench.run --full

clean:
	rm -rf .synthpriv
