# Quick start: `make demo`, then `make test`.  Everything lands in .venv/.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup demo test lint bench i18n clean bytecode

# Byte-compile refurb ahead of time: an editable install is otherwise compiled at every start when
# PYTHONDONTWRITEBYTECODE is set (as on our CI machines), which costs ~40 ms of `refurb --help`.
setup: $(STAMP) bytecode

bytecode:
	@$(BIN)/python -m compileall -q refurb

$(STAMP): pyproject.toml
	bash scripts/system-deps.sh
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: setup
	$(BIN)/refurb demo

test: setup
	$(BIN)/python -m pytest -n 2 -q

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python -m benchmarks

i18n: setup
	$(BIN)/python scripts/i18n.py

clean:
	rm -rf $(VENV) demo .pytest_cache .hypothesis
	find refurb -name __pycache__ -type d -exec rm -rf {} +
