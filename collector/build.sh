#!/usr/bin/env bash
# Builds the demo's OpenTelemetry Collector from collector/builder-config.yaml
# with the OpenTelemetry Collector Builder (ocb). Run from anywhere:
#   bash collector/build.sh          (npm run collector:build)
#   bash collector/build.sh --force  (rebuild even if up to date)
#
# Needs only Go (>= 1.26) and the Go module proxy. The builder itself is
# installed with `go install` into .cache/collector/bin (prebuilt ocb
# downloads are not used). The Go build and module caches keep their defaults
# (~/.cache/go-build, ~/go/pkg/mod), so rebuilds after a manifest change are
# quick. The binary is skipped when it exists and the stamp (a hash of the
# manifest, the local connector's sources and this script) matches.
#
# Environment:
#   COLLECTOR_BUILD_TIMEOUT  limit for each step (go install, builder), default 1800 (s)
#   PRINT_BINARY_PATH=1      print only the binary path on stdout (for scripts)
set -euo pipefail

BUILDER_VERSION=v0.161.0
DIST_NAME=otelcol-users-demo

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" # builder-config.yaml's output_path and `path:` entries are relative to the repo root

CACHE_DIR=.cache/collector
GOBIN_DIR="$ROOT/$CACHE_DIR/bin"
DIST_DIR="$CACHE_DIR/dist" # must equal dist.output_path in builder-config.yaml
BINARY="$DIST_DIR/$DIST_NAME"
STAMP="$CACHE_DIR/build.stamp"
LOG="$CACHE_DIR/build.log"
TIMEOUT_S="${COLLECTOR_BUILD_TIMEOUT:-1800}"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

say() { echo "[collector:build] $*" >&2; }
fail() { say "ERROR: $*"; exit 1; }

hash_stdin() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -d' ' -f1
  else shasum -a 256 | cut -d' ' -f1; fi
}

# `timeout` is GNU coreutils; fall back to running unbounded where it is missing.
bounded() {
  if command -v timeout >/dev/null 2>&1; then timeout --kill-after=10 "$TIMEOUT_S" "$@"
  else "$@"; fi
}

stamp_value() {
  {
    echo "builder $BUILDER_VERSION"
    cat collector/builder-config.yaml collector/build.sh
    find collector/exceptionsconnector -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) \
      ! -name '*_test.go' -print0 | LC_ALL=C sort -z | xargs -0 cat
  } | hash_stdin
}

mkdir -p "$CACHE_DIR"
WANT="$(stamp_value)"
if [[ $FORCE -eq 0 && -x "$BINARY" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  say "up to date: $BINARY"
  [[ "${PRINT_BINARY_PATH:-}" == 1 ]] && echo "$ROOT/$BINARY"
  exit 0
fi

command -v go >/dev/null 2>&1 || fail "Go is not installed (need Go >= 1.26: https://go.dev/dl/)"

# Simple lock so parallel callers (test runners) do not build into the same folder at once.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_DIR/build.lock"
  flock -w "$TIMEOUT_S" 9 || fail "timed out waiting for another build to finish"
  # Someone else may have built it while we waited.
  if [[ $FORCE -eq 0 && -x "$BINARY" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    say "up to date: $BINARY"
    [[ "${PRINT_BINARY_PATH:-}" == 1 ]] && echo "$ROOT/$BINARY"
    exit 0
  fi
fi

# -mod=mod lets the builder's `go mod tidy`/`go build` update the generated go.mod;
# -buildvcs=false because the output folder sits inside this git work tree.
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
export GOWORK=off
: >"$LOG"

BUILDER="$GOBIN_DIR/builder"
if [[ ! -x "$BUILDER" ]] || ! "$BUILDER" version 2>&1 | grep -q "${BUILDER_VERSION}\$"; then
  say "installing ocb (go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION) into $CACHE_DIR/bin ..."
  GOBIN="$GOBIN_DIR" bounded go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION" >>"$LOG" 2>&1 \
    || { tail -n 30 "$LOG" >&2; fail "go install of the builder failed (log: $LOG)"; }
fi

say "building $DIST_NAME (first build: a few minutes; log: $LOG) ..."
start=$(date +%s)
rm -f "$STAMP"
if ! bounded "$BUILDER" --config collector/builder-config.yaml >>"$LOG" 2>&1; then
  tail -n 30 "$LOG" >&2
  fail "builder failed (log: $LOG)"
fi
[[ -x "$BINARY" ]] || fail "builder finished but $BINARY is missing"
echo "$WANT" >"$STAMP"
say "built $BINARY in $(( $(date +%s) - start ))s"
[[ "${PRINT_BINARY_PATH:-}" == 1 ]] && echo "$ROOT/$BINARY"
exit 0
