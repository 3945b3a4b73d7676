#!/usr/bin/env bash
# Builds the local control plane (kube-apiserver, etcd, kubectl) from their Go modules into
# bin/k8s/<version>/, the directory envtest and the demo use as KUBEBUILDER_ASSETS.
#
# Nothing is downloaded but Go modules through the module proxy: a throwaway module requires
# k8s.io/kubernetes at KUBE_VERSION and pins every k8s.io/* staging module to the matching
# v0.x.y with replace lines (read from kubernetes' own go.mod); a second module's main calls
# etcdmain.Main. (The proxy serves go.mod but not the source of some releases, v1.37.2 among
# them: KUBE_VERSION must be one whose zip it serves.) Binaries already present are reused, so only the first run pays (~5 min on 2 cores).
#
# Usage: hack/build-control-plane.sh            build if missing, print the assets directory
#        FORCE=1 hack/build-control-plane.sh   rebuild
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KUBE_VERSION="${KUBE_VERSION:-v1.37.1}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
STAGING_VERSION="v0.${KUBE_VERSION#v1.}"
ASSETS="${ROOT}/bin/k8s/${KUBE_VERSION}"
WORK="${ROOT}/bin/.build/control-plane"

log() { printf '[control-plane] %s\n' "$*" >&2; }

have() { [[ -x "${ASSETS}/$1" ]] && [[ -f "${ASSETS}/.$1.stamp" ]] && [[ "$(cat "${ASSETS}/.$1.stamp")" == "$2" ]]; }

build_kube() {
  local want="kubernetes ${KUBE_VERSION}"
  if [[ -z "${FORCE:-}" ]] && have kube-apiserver "$want" && have kubectl "$want"; then
    return
  fi
  local dir="${WORK}/kubernetes"
  rm -rf "$dir" && mkdir -p "$dir"
  log "building kube-apiserver and kubectl ${KUBE_VERSION} from k8s.io/kubernetes (first time only, a few minutes)"
  local gomod json # kubernetes' own go.mod, fetched from a directory outside any module
  if ! json="$(cd "$(mktemp -d)" && GOFLAGS= go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" 2>&1)"; then
    log "the Go module proxy does not serve k8s.io/kubernetes@${KUBE_VERSION} (set KUBE_VERSION to a release it serves):"
    printf '%s\n' "$json" >&2
    exit 1
  fi
  gomod="$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' <<<"$json")"
  [[ -f "$gomod" ]] || { log "cannot read go.mod of k8s.io/kubernetes@${KUBE_VERSION}"; exit 1; }
  {
    echo "module devicesync.local/control-plane-build"
    echo
    echo "go $(sed -n 's/^go \(.*\)$/\1/p' "$gomod")"
    echo
    echo "require k8s.io/kubernetes ${KUBE_VERSION}"
    echo
    echo "replace ("
    # Every staging module kubernetes replaces with ./staging/src/..., pinned to the release the proxy serves.
    # Modules the proxy does not publish (the samples) are not in kube-apiserver's or kubectl's build graph.
    local m
    for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => ./staging/.*#\1#p' "$gomod"); do
      case "$m" in k8s.io/sample-*) continue ;; esac
      echo "	${m} => ${m} ${STAGING_VERSION}"
    done
    echo ")"
  } >"${dir}/go.mod"
  (
    cd "$dir"
    export GOFLAGS=-mod=mod CGO_ENABLED=0
    go get "k8s.io/kubernetes/cmd/kube-apiserver@${KUBE_VERSION}" "k8s.io/kubernetes/cmd/kubectl@${KUBE_VERSION}" >/dev/null 2>&1 ||
      go get "k8s.io/kubernetes/cmd/kube-apiserver@${KUBE_VERSION}" "k8s.io/kubernetes/cmd/kubectl@${KUBE_VERSION}"
    mkdir -p "$ASSETS"
    log "compiling kube-apiserver"
    go build -trimpath -ldflags "-s -w" -o "${ASSETS}/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
    echo "$want" >"${ASSETS}/.kube-apiserver.stamp"
    log "compiling kubectl"
    go build -trimpath -ldflags "-s -w" -o "${ASSETS}/kubectl" k8s.io/kubernetes/cmd/kubectl
    echo "$want" >"${ASSETS}/.kubectl.stamp"
  )
}

build_etcd() {
  local want="etcd ${ETCD_VERSION}"
  if [[ -z "${FORCE:-}" ]] && have etcd "$want"; then
    return
  fi
  local dir="${WORK}/etcd"
  rm -rf "$dir" && mkdir -p "$dir"
  log "building etcd ${ETCD_VERSION} from go.etcd.io/etcd/server/v3"
  cat >"${dir}/go.mod" <<MOD
module devicesync.local/etcd-build

go 1.24
MOD
  cat >"${dir}/main.go" <<'SRC'
// Command etcd is etcd's own server entry point, built from its Go module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
SRC
  (
    cd "$dir"
    export GOFLAGS=-mod=mod CGO_ENABLED=0
    go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" >/dev/null 2>&1 || go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
    go mod tidy >/dev/null
    mkdir -p "$ASSETS"
    go build -trimpath -ldflags "-s -w" -o "${ASSETS}/etcd" .
    echo "$want" >"${ASSETS}/.etcd.stamp"
  )
}

build_etcd
build_kube
log "ready: ${ASSETS}"
echo "$ASSETS"
