# Two commands do everything on a fresh clone: `make demo` and `make test`.
# Both set up the virtual environment from requirements.lock first when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synthpriv-installed
# The CPU build of torch ships on these machines as a wheel; pip finds it here.
WHEELS ?= /opt/wheels
FIND_LINKS := $(if $(wildcard $(WHEELS)),--find-links $(WHEELS),)

.PHONY: setup demo test test-fast bench clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, so pip takes the CPU build and skips the CUDA wheels.
	$(BIN)/pip install -q $(FIND_LINKS) torch==2.13.0
	$(BIN)/pip install -q $(FIND_LINKS) -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/pip check
	touch $@

demo: $(STAMP)
	$(BIN)/synthpriv demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf .synthpriv
