# Roost: `make run` starts the platform, `make test` checks it. Everything installs into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_PACKAGES := chromium fonts-dejavu-core prometheus prometheus-alertmanager nginx wrk \
	podman buildah debootstrap runc uidmap fuse-overlayfs slirp4netns
LINT_PATHS = $(wildcard src tests bench loadtests migrations scripts deploy)

.PHONY: run test lint fmt unit bench soak install system-deps node-deps checkov sbom clean image

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip==25.3
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/roost up

# Debian packages some tests drive for real: chromium (browser tests), promtool and amtool
# (alert rule and Alertmanager config tests), nginx (`nginx -t` of the proxy config), wrk
# (benchmarks), podman, buildah, runc and debootstrap (tests/image builds and runs the real image).
# Installed only when missing, so a second run costs nothing. SKIP_PACKAGES (environment) names
# those a machine provides another way: GitHub's Ubuntu runner has Chrome, no `chromium` deb.
system-deps:
	@missing=""; for p in $(filter-out $(SKIP_PACKAGES),$(SYSTEM_PACKAGES)); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy
	# Security lint of shipped code: medium and high findings fail; each accepted one carries an
	# inline `# nosec BXXX` with its reason. Tests are left out (asserts, fixed test secrets).
	$(BIN)/bandit -c pyproject.toml -q -r src loadtests scripts --severity-level medium

fmt: $(STAMP)
	$(BIN)/ruff format $(LINT_PATHS)
	$(BIN)/ruff check --fix $(LINT_PATHS)

test: $(STAMP) system-deps node-deps checkov lint
	$(BIN)/pytest --cov --cov-report=term --cov-report=xml -p no:cacheprovider --durations=25

# npm packages of deploy/kubernetes/validate (Argo Rollouts and Prometheus Operator schemas for
# tests/integration/deploy/test_rollouts.py), from its package-lock.json; only when missing.
NODE_DEPS := deploy/kubernetes/validate/node_modules/.package-lock.json
$(NODE_DEPS): deploy/kubernetes/validate/package-lock.json
	npm ci --prefix deploy/kubernetes/validate --no-audit --no-fund --loglevel=error

node-deps: $(NODE_DEPS)

# checkov pins boto3==1.35.49 (roost pins 1.44.5), so it gets its own venv inside .venv, fully
# pinned by deploy/checkov-requirements.txt; tests/integration/deploy/test_config_checkers.py.
CHECKOV := $(VENV)/checkov/bin/checkov
$(CHECKOV): deploy/checkov-requirements.txt
	test -x $(VENV)/checkov/bin/python || $(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install -q --no-deps -r deploy/checkov-requirements.txt
	touch $(CHECKOV)

checkov: $(CHECKOV)

# CycloneDX SBOM of the runtime dependencies the image ships (CD uploads it with each release).
sbom: $(STAMP)
	$(BIN)/python scripts/sbom.py sbom.cdx.json

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

# The real deploy/docker/Dockerfile on podman, its base image made with debootstrap (no registry).
image: system-deps $(STAMP)
	scripts/build-image.sh

bench: $(STAMP) system-deps
	$(BIN)/python -m bench

# Ten minutes of mixed traffic on every role under `roost up`; report and chart in test-artifacts/.
soak: $(STAMP)
	$(BIN)/python -m loadtests.soak --seconds 600 --warmup 60 --interval 10

clean:
	rm -rf $(VENV) .roost .pytest_cache .mypy_cache .ruff_cache coverage.xml .coverage*
