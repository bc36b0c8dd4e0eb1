# Sourced by the scripts that build and run this project's images with buildah
# and podman (scripts/base-images.sh; test/support/containers.mts passes the
# same flags). One storage of our own under .cache/containers (git-ignored), so
# nothing here touches the machine's default image store:
#   vfs    works everywhere, including inside a container without overlayfs
#   runc   crun cannot run here ("cgroups in hybrid mode not supported")
# shellcheck shell=bash
CONTAINERS_DIR="${CONTAINERS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/containers}"
STORAGE_FLAGS=(--storage-driver vfs --root "$CONTAINERS_DIR/storage" --runroot "$CONTAINERS_DIR/run")
podman_() { podman "${STORAGE_FLAGS[@]}" --tmpdir "$CONTAINERS_DIR/libpod" --runtime runc "$@"; }
buildah_() { buildah "${STORAGE_FLAGS[@]}" "$@"; }
