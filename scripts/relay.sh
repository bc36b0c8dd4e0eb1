#!/usr/bin/env bash
# Builds Sentry's ingest service, Relay 26.9.0, from its published source, so
# the Sentry tests can check what Sentry itself keeps (test/relay.test.mts).
#
#   source   the PyPI sdist sentry-relay==0.10.1: its rustsrc.zip is a
#            git-archive of getsentry/relay at 26.9.0 (2026-10-08)
#   build    `cargo build -p relay` (no `processing` feature: no Kafka, no Redis)
#   cache    $RELAY_CACHE (default ~/.cache/users-api/relay), outside the clone,
#            so a machine builds it once (about 12 minutes on 2 cores, 659
#            crates, a few GB in target/). Prints the binary's path last.
#
# Relay is FSL-1.1: it is built and run for tests only, never committed or shipped.
# Two build-only changes, both from ../shared/FACTS.md ("Sentry's Relay, built here"):
#   - symbolic's git rev cannot be fetched here; the crates.io release of the
#     same code stands in (symbolic is compiled only with `processing`);
#   - rustc 1.95's unstable inherent Path::is_empty shadows the stable one.
set -euo pipefail

version=0.10.1
cache=${RELAY_CACHE:-$HOME/.cache/users-api/relay}
binary=$cache/bin/relay-$version
timeout_s=${RELAY_BUILD_TIMEOUT:-2400}

if [ -x "$binary" ]; then echo "$binary"; exit 0; fi

for tool in cargo pip python3 unzip git; do
  command -v "$tool" >/dev/null || { echo "relay.sh: $tool is needed to build Relay" >&2; exit 1; }
done

mkdir -p "$cache/bin"
src=$cache/src-$version
if [ ! -f "$src/.prepared" ]; then
  rm -rf "$src" "$cache/sdist"
  mkdir -p "$cache/sdist"
  echo "relay.sh: downloading the sentry-relay==$version sdist" >&2
  timeout 600 pip download "sentry-relay==$version" --no-binary :all: --no-deps -q -d "$cache/sdist" >&2
  tar -xzf "$cache/sdist/sentry_relay-$version.tar.gz" -C "$cache/sdist"
  unzip -q "$cache/sdist/sentry_relay-$version/rustsrc.zip" -d "$cache/sdist"
  mv "$cache/sdist/rustsrc" "$src"
  rm -rf "$cache/sdist"
  cat >>"$src/Cargo.toml" <<'EOF'

[patch."https://github.com/getsentry/symbolic"]
symbolic-common = { version = "=14.0.0-alpha.3" }
symbolic-unreal = { version = "=14.0.0-alpha.3" }
EOF
  sed -i 's/self\.path\.is_empty()/self.path.as_os_str().is_empty()/g' "$src/relay-config/src/config.rs"
  # relay-log's build script runs `git rev-parse`.
  (cd "$src" && git init -q && git add -A && git -c user.name=build -c user.email=build@localhost commit -qm "relay $version" --no-gpg-sign)
  touch "$src/.prepared"
fi

echo "relay.sh: cargo build -p relay (about 12 minutes on 2 cores the first time)" >&2
(cd "$src" && timeout "$timeout_s" cargo build -p relay --quiet >&2)
cp "$src/target/debug/relay" "$binary.tmp"
mv "$binary.tmp" "$binary"
echo "$binary"
