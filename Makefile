# slipway — `make demo` and `make test` each set themselves up on a fresh machine (python3 + make).
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
export BENTOML_DO_NOT_TRACK := true
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/uv/bin/uv)
VENV := .venv
RUN := $(UV) run --locked --no-sync
PYTEST_ARGS ?=

.PHONY: help setup system-tools demo review-pages test check lint types fmt bench docs clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(TOOLS)/uv/bin/uv:
	python3 -m pip install --quiet --disable-pip-version-check --target $(TOOLS)/uv uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --compile-bytecode --python python3
	@touch $@

setup: $(VENV)/.synced  ## install the locked environment into .venv

# Debian packages the tests and the demo use for real (never mocks): promtool and the Pushgateway
# (alert rules, the jobs' metrics), podman + runc + mmdebstrap (the image and the rehearsal) and
# docker-registry (a real OCI registry on loopback for push tests), postgresql (the shared review store's
# tests start their own server; its binaries live off PATH in /usr/lib/postgresql) and chromium (the review
# pages in a real browser, driven by Playwright), prometheus-alertmanager (the drills deliver through it)
# and faketime (drills of "the last run was hours ago" run the real command under libfaketime); wrk loads
# the servers in benchmarks/peers_bench.py.
# One apt-get for whatever is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_TOOLS := promtool:prometheus prometheus-pushgateway:prometheus-pushgateway podman:podman runc:runc \
  mmdebstrap:mmdebstrap docker-registry:docker-registry chromium:chromium \
  prometheus-alertmanager:prometheus-alertmanager faketime:faketime wrk:wrk
system-tools:  ## install the Debian packages the demo and the tests run (those not on PATH)
	@missing=$$(for pair in $(SYSTEM_TOOLS); do command -v $${pair%%:*} >/dev/null || echo $${pair#*:}; done; \
	  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || echo postgresql); \
	if [ -n "$$missing" ]; then command -v apt-get >/dev/null || \
	  { echo "missing $$missing and apt-get is not available: install them"; exit 1; }; \
	  echo "installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q \
	    --no-install-recommends $$missing; fi

demo: setup system-tools  ## a local production rehearsal of everything that exists, on embedded defaults
	@echo "== render: the dev stack's Kubernetes objects (Pulumi program under mocks, schema-checked)"
	$(RUN) slipway render --stack dev --out build/manifests --format table
	@echo "== gate: the same rules as the CrossGuard pack, on what render produced (SARIF + JUnit for CI)"
	$(RUN) slipway gate build/manifests --config policies/gate.yaml
	$(RUN) slipway gate build/manifests --config policies/gate.yaml --format sarif --output build/reports/gate.sarif
	$(RUN) slipway gate build/manifests --config policies/gate.yaml --format junit --output build/reports/gate.xml
	@echo "== gate: a manifest with classic mistakes is refused (exit 1 expected)"
	@$(RUN) slipway gate tests/fixtures/policies/insecure-deployment.yaml; \
	  code=$$?; if [ $$code -ne 1 ]; then echo "expected exit 1, got $$code"; exit 1; fi
	@echo "== model server: train + sign, serve (bentoml serve on loopback), route, review, drift"
	$(RUN) python -m bentos.classifier.demo --workdir build/demo
	@echo "== image: the model-server image with the demo's signed model (base from Debian's packages, cached)"
	SLIPWAY_HOME=build/demo/home BENTOML_HOME=build/demo/bentoml $(RUN) slipway image build --tag demo \
	  > build/demo/image.ref
	@echo "   built $$(cat build/demo/image.ref)"
	@echo "== rehearse: every rendered dev workload run in podman as the kubelet would (probes, prediction, jobs)"
	$(RUN) slipway rehearse --stack dev --image "$$(cat build/demo/image.ref)" --format table
	@echo "== pipeline: messy sample files -> contract-clean Parquet (an offline source: exit 3 expected)"
	@SLIPWAY_HOME=build/demo/home $(RUN) slipway pipeline run --config pipelines/samples/pipeline.yaml \
	  --out build/demo/pipeline; code=$$?; if [ $$code -ne 3 ]; then echo "expected exit 3, got $$code"; exit 1; fi
	@echo "== drift report of the pipeline's output against the served model's training reference"
	SLIPWAY_HOME=build/demo/home BENTOML_HOME=build/demo/bentoml $(RUN) slipway drift report \
	  build/demo/pipeline/data/records.parquet --out build/demo/drift
	@echo "== bring your own model: the credit contract (3 classes, categories, missing values) trained, piped, served"
	$(RUN) python -m bentos.classifier.demo_contract --contract contracts/credit.yaml \
	  --pipeline pipelines/samples/credit/pipeline.yaml --workdir build/demo-credit
	@echo "== model loop: a label shift caught by the audit sample, retrained, approved by a second person, shadowed, promoted, rolled back (real Prometheus)"
	$(RUN) python -m lifecycle.demo_loop --workdir build/demo-loop
	@echo "== runbooks: pages, index, handoff guide and alert rules regenerated from runbooks/catalog.yaml"
	$(RUN) slipway runbooks
	$(RUN) slipway runbooks --check
	cd runbooks/alerts && promtool check rules slipway.rules.yaml && promtool test rules slipway.rules.test.yaml
	@echo "== drills: failures injected into real processes, alerts through a real Prometheus + Alertmanager, resolved"
	$(RUN) slipway drill run watchdog kill-model-server reject-candidate --workdir build/drills \
	  --json build/reports/drills.json --junit build/reports/drills.xml --format table
	@echo "== evidence: OSCAL documents, SBOM and a signed statement for the dev stack, then verified"
	SLIPWAY_HOME=build/demo/home $(RUN) slipway evidence --stack dev --out build/evidence \
	  --drills build/reports/drills.json --image "$$(cat build/demo/image.ref)" --format table
	SLIPWAY_HOME=build/demo/home $(RUN) slipway evidence verify build/evidence --format table
	@echo "== review pages: the demo's queue in a browser, with a sign-in link (waits for Enter at a terminal)"
	$(RUN) python -m bentos.classifier.demo_pages --workdir build/demo

review-pages: setup system-tools  ## serve the demo's review queue with a sign-in link until Enter (after `make demo`)
	$(RUN) python -m bentos.classifier.demo_pages --workdir build/demo

check: lint types  ## lint + types

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

types: setup
	$(RUN) mypy
	$(RUN) mypy contracts/examples/make_credit.py contracts/examples/loop_world.py

fmt: setup  ## format the code
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

test: check system-tools  ## install everything and run the whole suite (slow integration tests included)
	$(RUN) slipway runbooks --check
	$(RUN) pytest $(PYTEST_ARGS)

bench: setup  ## performance figures (see benchmarks/); CHECKOV=1 adds the Checkov comparison
	$(RUN) python benchmarks/render_bench.py
	$(RUN) python benchmarks/gate_bench.py $(if $(CHECKOV),--checkov)
	$(RUN) python benchmarks/serve_bench.py
	$(RUN) python benchmarks/peers_bench.py
	$(RUN) python benchmarks/pipeline_bench.py
	$(RUN) python benchmarks/image_bench.py

docs: setup  ## regenerate generated files (policies/RULES.md, the Bento pins, the contract JSON Schema; runbooks, handoff guide, alert rules)
	$(RUN) python -m policies.docs
	$(RUN) python -m images.requirements
	$(RUN) python -m slipway.contract
	$(RUN) slipway runbooks

clean:  ## remove build outputs and environments
	rm -rf build $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
