# The README's two commands: `make demo` (set up + run the main job locally) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-tools lint bench synth clean web

# constraints.txt pins what the venv shares with the deployed Lambda bundles and Glue job.
$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	@$(MAKE) --no-print-directory web || echo "note: the dashboard is not built (it needs Node.js 20.19+ and npm); \
		\`lake serve\` still answers the API"
	$(BIN)/lake demo

# Everything CI checks: lint, types, then the tests. Tests never skip for a missing tool: the
# report test needs a headless browser (Debian's chromium, installed here when missing), the
# Lambda bundle tests CPython 3.12 (the Lambda runtime's Python).
test: $(STAMP) test-tools web
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile

test-tools: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "chromium not found: install it (sudo apt-get install -y chromium), the report test needs it"; \
	    exit 1; \
	  fi; }
	@$(BIN)/python -c "from tests.infra.lambda_runtime import find_lambda_python, MISSING_PYTHON; \
	  import sys; p = find_lambda_python(); print('Lambda runtime Python:', p) if p else sys.exit(MISSING_PYTHON)"

# The dashboard (web/): npm ci + vite build into web/dist (not committed), rebuilt when a source changes.
# `lake serve` serves it at /, the CDK app deploys it to S3 behind CloudFront (infra/web.py).
WEB_SOURCES := web/package.json web/package-lock.json web/index.html web/vite.config.js $(shell find web/src -type f 2>/dev/null)
web: web/dist/index.html

web/dist/index.html: $(WEB_SOURCES)
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: install Node.js 20.19+ (the dashboard is built with npm)"; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

# Offline CDK synth (no AWS credentials): writes cdk.out/ with the template and cdk-nag reports.
ENV ?= dev
synth: $(STAMP) web
	PATH="$(CURDIR)/$(BIN):$$PATH" JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 \
		npx --yes aws-cdk@2 synth -c env=$(ENV) --quiet --no-notices

clean:
	rm -rf $(VENV) cdk.out data .pytest_cache web/dist web/node_modules test-artifacts
