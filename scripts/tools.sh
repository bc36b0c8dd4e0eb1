#!/usr/bin/env bash
# Installs the tools that validate k8s/ without a cluster into .cache/tools/bin
# (git-ignored). Idempotent: a tool is rebuilt only when its pinned version or
# its source changes. Needs Go (>= 1.26) and the Go module proxy; nothing else.
#   kustomize      sigs.k8s.io/kustomize/kustomize/v5, pinned below
#   kustomize-kubectl-1.27   the kustomize that kubectl 1.27, the oldest the README names, has built in
#   k8s-validate   tools/k8s-validate: strict decoding into k8s.io/api (Kubernetes version pinned in its go.mod)
#
#   bash scripts/tools.sh            install what is missing or out of date
#   TOOLS_TIMEOUT=600                limit per step, in seconds
set -euo pipefail

KUSTOMIZE_VERSION=v5.8.2 # v5.8.3 needs Go 1.27
KUBECTL_1_27_KUSTOMIZE_VERSION=v5.0.1 # Kubernetes 1.27 changelog: kubectl's kustomize went to v5.0.1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.cache/tools/bin"
TIMEOUT_S="${TOOLS_TIMEOUT:-600}"
mkdir -p "$BIN"

say() { echo "[tools] $*" >&2; }
fail() { say "ERROR: $*"; exit 1; }
command -v go >/dev/null 2>&1 || fail "Go is not installed (need Go >= 1.26: https://go.dev/dl/)"
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0

# when_changed NAME WANT COMMAND...: runs COMMAND unless $BIN/NAME exists and was built for WANT.
when_changed() {
  local name="$1" want="$2" stamp="$BIN/.$1.stamp"; shift 2
  if [[ -x "$BIN/$name" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  local start; start=$(date +%s)
  rm -f "$stamp"
  "$@" || fail "installing $name failed"
  echo "$want" >"$stamp"
  say "installed $name in $(( $(date +%s) - start ))s"
}

# install_kustomize VERSION NAME: sigs.k8s.io/kustomize/kustomize/v5 at VERSION, as $BIN/NAME.
install_kustomize() {
  local version="$1" name="$2" dir status
  say "go install sigs.k8s.io/kustomize/kustomize/v5@$version as $name ..."
  dir=$(mktemp -d)
  GOBIN="$dir" timeout "$TIMEOUT_S" go install "sigs.k8s.io/kustomize/kustomize/v5@$version" && mv "$dir/kustomize" "$BIN/$name"
  status=$?; rm -rf "$dir"; return $status
}

build_validator() {
  say "building tools/k8s-validate ..."
  (cd "$ROOT/tools/k8s-validate" && timeout "$TIMEOUT_S" go build -o "$BIN/k8s-validate" .)
}

validator_sources() { cat "$ROOT"/tools/k8s-validate/{go.mod,go.sum,*.go} | sha256sum | cut -d' ' -f1; }

when_changed kustomize "$KUSTOMIZE_VERSION" install_kustomize "$KUSTOMIZE_VERSION" kustomize
when_changed kustomize-kubectl-1.27 "$KUBECTL_1_27_KUSTOMIZE_VERSION" install_kustomize "$KUBECTL_1_27_KUSTOMIZE_VERSION" kustomize-kubectl-1.27
when_changed k8s-validate "$(validator_sources)" build_validator
