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
# manifest and this script) matches.
#
# A cold build (empty Go caches) downloads a few hundred modules and compiles
# a few thousand packages: while a step runs, a line every
# COLLECTOR_BUILD_PROGRESS_S seconds says how long it has run and how far it is.
#
# Environment:
#   COLLECTOR_BUILD_TIMEOUT     limit for each step (go install, builder, go build), default 1800 (s)
#   COLLECTOR_BUILD_PROGRESS_S  seconds between progress lines, default 15
#   PRINT_BINARY_PATH=1         print only the binary path on stdout (for scripts)
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
PROGRESS_S="${COLLECTOR_BUILD_PROGRESS_S:-15}"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

say() { echo "[collector:build] $*" >&2; }
fail() { say "ERROR: $*"; exit 1; }

hash_stdin() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -d' ' -f1
  else shasum -a 256 | cut -d' ' -f1; fi
}

# `timeout` is GNU coreutils; fall back to running unbounded where it is missing.
BOUNDED=()
command -v timeout >/dev/null 2>&1 && BOUNDED=(timeout --kill-after=10 "$TIMEOUT_S")

# What the step logging to $LOG is doing now, from the log itself: modules
# downloaded ("go: downloading ..."), packages compiled (`go build -v` and
# `go install -v` print one line per package), out of $TOTAL_PACKAGES if known.
progress() {
  local downloads packages
  downloads=$(tail -n "+$((STEP_LOG_FROM + 1))" "$LOG" | grep -c '^go: downloading' || true)
  packages=$(tail -n "+$((STEP_LOG_FROM + 1))" "$LOG" | grep -cvE '^(go: |[0-9]{4}-[0-9]{2}-[0-9]{2}T)' || true)
  if [[ -n "${TOTAL_PACKAGES:-}" ]]; then echo "$packages of $TOTAL_PACKAGES packages compiled"
  else echo "$downloads modules downloaded, $packages packages compiled"; fi
}

# Runs one step (bounded) with its output in $LOG, saying every $PROGRESS_S
# seconds what it is doing. Stopped itself (Ctrl-C, SIGTERM, SIGHUP), it stops
# the step: `timeout` runs it in a process group of its own, which a Ctrl-C at
# the terminal does not reach.
run_with_progress() {
  local started=$SECONDS next=$((SECONDS + PROGRESS_S)) pid
  STEP_LOG_FROM=$(wc -l <"$LOG")
  ${BOUNDED[@]+"${BOUNDED[@]}"} "$@" >>"$LOG" 2>&1 & # a simple command, so $! is timeout itself
  pid=$!
  trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 143' TERM INT HUP
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if (( SECONDS >= next )) && kill -0 "$pid" 2>/dev/null; then
      say "  $((SECONDS - started)) s, $(progress)"
      next=$((next + PROGRESS_S))
    fi
  done
  trap - TERM INT HUP
  wait "$pid"
}

stamp_value() {
  {
    echo "builder $BUILDER_VERSION"
    cat collector/builder-config.yaml collector/build.sh
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
  GOBIN="$GOBIN_DIR" run_with_progress go install -v "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION" \
    || { tail -n 30 "$LOG" >&2; fail "go install of the builder failed (log: $LOG)"; }
fi

say "building $DIST_NAME (log: $LOG) ..."
start=$(date +%s)
rm -f "$STAMP"
# The builder generates the sources and fetches the modules; its compile step
# (`go build -trimpath -o <name> -ldflags=-s -w -gcflags=`, internal/builder/main.go
# at v0.161.0) runs here with -v, so that the progress lines can count packages.
say "  generating the sources and fetching the Go modules ..."
if ! run_with_progress "$BUILDER" --skip-compilation --config collector/builder-config.yaml; then
  tail -n 30 "$LOG" >&2
  fail "builder failed (log: $LOG)"
fi
TOTAL_PACKAGES=$(go -C "$DIST_DIR" list -deps . | wc -l)
say "  compiling $TOTAL_PACKAGES packages (those in the Go build cache are not compiled again) ..."
if ! run_with_progress go -C "$DIST_DIR" build -v -trimpath -o "$DIST_NAME" "-ldflags=-s -w" "-gcflags="; then
  tail -n 30 "$LOG" >&2
  fail "compiling failed (log: $LOG)"
fi
[[ -x "$BINARY" ]] || fail "builder finished but $BINARY is missing"
echo "$WANT" >"$STAMP"
say "built $BINARY in $(( $(date +%s) - start ))s"
[[ "${PRINT_BINARY_PATH:-}" == 1 ]] && echo "$ROOT/$BINARY"
exit 0
