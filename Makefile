# The two commands of the README: `make demo` and `make test`. Both run `make setup` first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup demo demo-stop test unit clean-node

# Plugin zips for Maven mirrors that lack one (the Learning-to-Rank plugin): used only when Maven
# Central cannot supply the zip, then kept in the download cache.
SHARED_PLUGINS := $(abspath ../shared/opensearch-plugins)
ifneq ($(wildcard $(SHARED_PLUGINS)/*.zip),)
export SHELFRANK_OPENSEARCH_ARTIFACTS_DIR ?= $(SHARED_PLUGINS)
endif

setup: $(VENV)/.installed redis-server chromium postgresql
	@# Downloads OpenSearch from Maven Central the first time only (cached in ~/.cache/shelfrank).
	$(BIN)/shelfrank opensearch provision

# The workers' broker: the Debian package, installed when missing (as root), else the command to run.
.PHONY: redis-server
redis-server:
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; \
	  else echo "redis-server is missing: run  sudo apt-get install -y redis-server" >&2; exit 1; fi; }

# Production's database, tested for real: Debian's package (the tests run their own cluster on a spare port).
.PHONY: postgresql
postgresql:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; \
	  else echo "postgresql is missing: run  sudo apt-get install -y postgresql" >&2; exit 1; fi; }

# The console's browser tests: Debian's chromium and its driver, installed when missing (as root).
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium is missing: run  sudo apt-get install -y chromium chromium-driver" >&2; exit 1; fi; }

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/shelfrank demo

# Stops what `make demo` left running (worker, API, console, Redis, the node); their data stays.
demo-stop:
	$(BIN)/shelfrank demo --stop

test: setup
	$(BIN)/pytest

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit

clean-node:
	$(BIN)/shelfrank opensearch wipe --yes

# Renders the architecture diagram from its source (needs Graphviz: apt-get install graphviz).
.PHONY: diagram
diagram: docs/images/architecture.svg
docs/images/architecture.svg: docs/architecture.dot
	dot -Tsvg $< -o $@
