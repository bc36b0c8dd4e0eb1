# Sourced by whatever builds and runs this project's images with buildah and
# podman (scripts/base-images.sh; harness/containers.mts takes its flags
# from here). One storage of our own under .cache/containers (git-ignored), so
# nothing here touches the machine's default image store:
#   overlay  when this machine's kernel and file system allow it (podman checks
#            by starting the driver), else
#   vfs      which works everywhere (inside a container without overlayfs too),
#            but copies every layer in full: builds take several times longer
#            and use several times the disk.
#   runc     crun cannot run here ("cgroups in hybrid mode not supported")
# The driver is chosen once per storage and kept in .cache/containers/driver.
# shellcheck shell=bash
CONTAINERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/containers"
# podman's database records where its storage lives: a copy of .cache from
# another checkout cannot be used here, so it is dropped and rebuilt.
if [[ -f "$CONTAINERS_DIR/path" && "$(cat "$CONTAINERS_DIR/path")" != "$CONTAINERS_DIR" ]]; then
  rm -rf "$CONTAINERS_DIR"
fi
mkdir -p "$CONTAINERS_DIR"
echo "$CONTAINERS_DIR" >"$CONTAINERS_DIR/path"
if [[ ! -s "$CONTAINERS_DIR/driver" ]]; then
  probe="$(mktemp -d)"
  if podman --storage-driver overlay --root "$probe/storage" --runroot "$probe/run" --tmpdir "$probe/libpod" \
    info --format '{{.Store.GraphDriverName}}' >/dev/null 2>&1; then
    echo overlay >"$CONTAINERS_DIR/driver"
  else
    echo vfs >"$CONTAINERS_DIR/driver"
  fi
  rm -rf "$probe"
fi
STORAGE_DRIVER="$(cat "$CONTAINERS_DIR/driver")"
STORAGE_FLAGS=(--storage-driver "$STORAGE_DRIVER" --root "$CONTAINERS_DIR/storage" --runroot "$CONTAINERS_DIR/run")
PODMAN_FLAGS=("${STORAGE_FLAGS[@]}" --tmpdir "$CONTAINERS_DIR/libpod" --runtime runc)
podman_() { podman "${PODMAN_FLAGS[@]}" "$@"; }
buildah_() { buildah "${STORAGE_FLAGS[@]}" "$@"; }
