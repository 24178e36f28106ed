# The two commands of the README: `make demo` and `make test`. Both run `make setup` first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test unit clean-node

setup: $(VENV)/.installed
	@# Downloads OpenSearch from Maven Central the first time only (cached in ~/.cache/shelfrank).
	$(BIN)/shelfrank opensearch provision

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/shelfrank demo

test: setup
	$(BIN)/pytest

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit

clean-node:
	$(BIN)/shelfrank opensearch wipe --yes
