# devicesync-operator
#
#   make demo       the operator against a local control plane and simulated Destiny and Jamf
#   make test       everything CI runs: generated files, vet, unit and envtest suites
#
# Tools and the local control plane are built from Go modules into bin/ and reused.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

IMG ?= ghcr.io/k12dev/devicesync-operator:dev
LOCALBIN := $(CURDIR)/bin
CONTROLLER_GEN_VERSION ?= v0.23.0
CONTROLLER_GEN := $(LOCALBIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
# Tests on a 2-core machine: two packages at a time (each envtest suite starts its own control plane).
GO_TEST_FLAGS ?= -p 2 -count=1

.PHONY: all
all: build

##@ Development

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC from the markers, docs/api.md from the CRDs; copy the CRDs and the manager role into the chart.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/...;./controllers/..." output:crd:artifacts:config=config/crd/bases
	go run ./hack/apidocs -crds config/crd/bases -out docs/api.md
	cp config/crd/bases/*.yaml charts/devicesync-operator/crds/
	cp config/rbac/role.yaml charts/devicesync-operator/files/manager-role.yaml

.PHONY: fmt
fmt: ## go fmt
	go fmt ./...

.PHONY: vet
vet: ## go vet
	go vet ./...

.PHONY: control-plane
control-plane: ## Build kube-apiserver, etcd and kubectl from their Go modules into bin/k8s (cached).
	hack/build-control-plane.sh >/dev/null

.PHONY: helm
helm: ## Build helm from its Go module into bin/helm (cached), for the chart's tests.
	hack/build-helm.sh >/dev/null

.PHONY: test
test: generate manifests vet control-plane helm ## Run every test: unit, simulators, envtest against a real kube-apiserver and etcd.
	KUBEBUILDER_ASSETS="$$(hack/build-control-plane.sh)" go test $(GO_TEST_FLAGS) ./...

.PHONY: bench
bench: ## Benchmarks (see README, Performance).
	go test -run '^$$' -bench . -benchmem -timeout 60m ./internal/...

##@ Run

.PHONY: demo
demo: ## The operator against a local control plane and simulated Destiny and Jamf (DEMO_ARGS="--target jamfschool").
	hack/demo.sh $(DEMO_ARGS)

.PHONY: demo-once
demo-once: ## The demo's first run against Jamf Pro and Jamf School; fails unless both end as expected (CI).
	hack/demo.sh --once
	hack/demo.sh --once --target jamfschool

.PHONY: build
build: generate ## Build the manager binary.
	CGO_ENABLED=0 go build -trimpath -o $(LOCALBIN)/manager .

.PHONY: run
run: generate manifests ## Run the manager against the cluster in your kubeconfig.
	go run . --leader-elect=false

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	docker build -t $(IMG) .

##@ Deployment (kubectl with kustomize)

KUBECTL ?= kubectl

.PHONY: install
install: manifests ## Install the CRDs into the cluster in your kubeconfig.
	$(KUBECTL) apply --server-side -k config/crd

.PHONY: uninstall
uninstall: ## Remove the CRDs (and every policy and run) from the cluster.
	$(KUBECTL) delete -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator (config/default) with image $(IMG).
	$(KUBECTL) kustomize config/default | sed 's#controller:latest#$(IMG)#' | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the operator.
	$(KUBECTL) delete -k config/default

##@ Tools

$(CONTROLLER_GEN):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
