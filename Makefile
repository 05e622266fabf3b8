# The two commands: `make run` and `make test`. Both set up .venv on first use (packaging/setup.sh).
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup lint screenshots bench clean lock app app-check wheel

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

# The one-folder app (dist/lmd-studio/ and its tar.gz) and the offline wheels: packaging/build_app.py,
# packaging/build_wheels.py. app-check builds the app if it is stale, then measures it and the wheel
# install (table + runs/app-check.json; packaging/app_check.py).
app: $(STAMP)
	$(BIN)/python packaging/build_app.py

app-check: $(STAMP)
	$(BIN)/python packaging/app_check.py

wheel: $(STAMP)
	$(BIN)/python packaging/build_wheels.py

lock:
	bash packaging/lock.sh

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache
