# Kiln: `make run` brings up the demo plant, `make test` runs the whole suite. Both install what they need.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3

.PHONY: run test install lint bench clean

$(VENV)/.installed: pyproject.toml scripts/install.sh package.json package-lock.json
	@bash scripts/install.sh
	@touch $@

install: $(VENV)/.installed

run: install
	@bash scripts/run.sh

test: install
	@bash scripts/test.sh

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) staticfiles .kiln
