# The two commands a newcomer needs are `make demo` and `make test` (see README).
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint messages bench clean

$(BIN)/points: pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "needs Python 3.11 as $(PY) (set PY=...)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/points

demo: install
	$(BIN)/points demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy points rules web
	$(BIN)/lint-imports --no-logo

test: lint
	$(BIN)/pytest -n 2 --dist loadgroup

# Re-extract translatable text and merge it into the catalogues; then fill in zh_CN.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --omit-header -o web/translations/messages.pot .
	$(BIN)/pybabel update -i web/translations/messages.pot -d web/translations -l zh_CN --no-fuzzy-matching --omit-header

bench: install
	$(BIN)/points bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache points.db*
