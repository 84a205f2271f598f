# The README's two commands: `make demo` (set up + run the main job locally) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench synth clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lake generate --out data/raw

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m bench

# Offline CDK synth (no AWS credentials): writes cdk.out/ with the template and cdk-nag reports.
ENV ?= dev
synth: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 \
		npx --yes aws-cdk@2 synth -c env=$(ENV) --quiet --no-notices

clean:
	rm -rf $(VENV) cdk.out data .pytest_cache
