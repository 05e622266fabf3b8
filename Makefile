# The two commands: `make run` and `make test`. Both set up .venv on first use (packaging/setup.sh).
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup lint screenshots bench clean lock

$(STAMP): pyproject.toml packaging/setup.sh packaging/apt-packages.txt packaging/constraints.txt
	bash packaging/setup.sh

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m lmd_studio.cli.studio

test: $(STAMP)
	$(BIN)/ruff check lmd_studio tests
	$(BIN)/lint-imports
	$(BIN)/mypy  # the packages listed under [tool.mypy] in pyproject.toml
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check lmd_studio tests
	$(BIN)/lint-imports
	$(BIN)/mypy

screenshots: $(STAMP)
	$(BIN)/python -m lmd_studio.bench.screenshots --out docs --model models/default

bench: $(STAMP)
	$(BIN)/lmd bench engine
	$(BIN)/lmd bench model

lock:
	bash packaging/lock.sh

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache
