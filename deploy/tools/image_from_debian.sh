#!/usr/bin/env bash
# Build igny8/<service>:<tag>-debian from Debian packages only, without a container registry:
# mmdebstrap makes a minimal Debian root filesystem with python3, uv installs the service from
# uv.lock inside it (chroot), uv and its cache are removed again, and buildah turns the tree into
# an image (`from scratch`, vfs storage). The result matches deploy/Dockerfile: /app/.venv,
# /app/service as the entrypoint, user 10001, no build tools.
# Usage: deploy/tools/image_from_debian.sh <service> [tag]   (root; `make image-debian`)
set -euo pipefail
SERVICE=${1:?service name}
TAG=${2:-dev}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=${DEBIAN_SUITE:-bookworm}
WORK=$ROOT/.cache/image/$SERVICE
ROOTFS=$WORK/rootfs
BUILDAH=(buildah --storage-driver vfs)
IMAGE=igny8/$SERVICE:$TAG-debian

cleanup() {
    mountpoint -q "$ROOTFS/uv-cache" && umount "$ROOTFS/uv-cache"
    mountpoint -q "$ROOTFS/proc" && umount "$ROOTFS/proc"
    return 0
}
trap cleanup EXIT

rm -rf "$WORK" && mkdir -p "$WORK" "$ROOTFS"
BASE_TAR=$ROOT/.cache/image/debian-$SUITE-python3.tar
if [ ! -s "$BASE_TAR" ]; then
    echo "[image] Debian $SUITE root filesystem (mmdebstrap, minbase + python3) → $BASE_TAR"
    mmdebstrap --quiet --variant=minbase --include=python3,ca-certificates \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        "$SUITE" "${BASE_TAR%.tar}.partial.tar" && mv "${BASE_TAR%.tar}.partial.tar" "$BASE_TAR"
fi
tar -C "$ROOTFS" -xf "$BASE_TAR"

echo "[image] installing igny8-$SERVICE from uv.lock inside it"
mkdir -p "$ROOTFS/app" "$ROOTFS/uv-cache"
tar -C "$ROOT" --exclude=__pycache__ --exclude=tests --exclude='*.pyc' \
    -cf - pyproject.toml uv.lock shared services | tar -C "$ROOTFS/app" -xf -
# The uv binary itself (pip's `uv` package knows where it is; a shell shim would not run inside).
UV_BIN=$(python3 -c 'import uv; print(uv.find_uv_bin())' 2>/dev/null || command -v uv)
install -m 0755 "$UV_BIN" "$ROOTFS/usr/local/bin/uv"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
mount --bind "$(uv cache dir)" "$ROOTFS/uv-cache"
mount -t proc proc "$ROOTFS/proc"
chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root \
    UV_CACHE_DIR=/uv-cache UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/bin/python3 UV_PROJECT_ENVIRONMENT=/app/.venv \
    sh -c "cd /app && uv sync --quiet --locked --no-dev --package igny8-$SERVICE"
cleanup

echo "[image] removing the build tools and everything but $SERVICE and the library"
rm -rf "$ROOTFS/usr/local/bin/uv" "$ROOTFS/uv-cache" "$ROOTFS/var/lib/apt/lists"/* \
    "$ROOTFS/var/cache/apt"/* "$ROOTFS/var/log"/* "$ROOTFS/etc/resolv.conf"
for other in "$ROOTFS"/app/services/*; do
    [ "$(basename "$other")" = "$SERVICE" ] || rm -rf "$other"
done
ln -s "/app/.venv/bin/$SERVICE" "$ROOTFS/app/service"
echo 'igny8:x:10001:10001:igny8:/nonexistent:/usr/sbin/nologin' >> "$ROOTFS/etc/passwd"
echo 'igny8:x:10001:' >> "$ROOTFS/etc/group"

echo "[image] buildah from scratch → $IMAGE"
ctr=$("${BUILDAH[@]}" from scratch)
mnt=$("${BUILDAH[@]}" mount "$ctr")
cp -a "$ROOTFS/." "$mnt/"
"${BUILDAH[@]}" umount "$ctr" >/dev/null
"${BUILDAH[@]}" config --user 10001:10001 --workingdir /app \
    --env PYTHONDONTWRITEBYTECODE=1 --env PYTHONUNBUFFERED=1 --env PATH=/app/.venv/bin:/usr/bin:/bin \
    --port 8080 --entrypoint '["/app/service"]' \
    --cmd 'serve --role all --host 0.0.0.0 --port 8080' \
    --label "org.opencontainers.image.title=igny8-$SERVICE" "$ctr"
"${BUILDAH[@]}" commit --quiet --rm "$ctr" "$IMAGE" >/dev/null

echo "[image] smoke test: the entrypoint answers --help as user 10001 (chroot isolation)"
check=$("${BUILDAH[@]}" from "$IMAGE")
"${BUILDAH[@]}" run --isolation chroot --user 10001:10001 "$check" -- /app/service --help | head -3
"${BUILDAH[@]}" rm "$check" >/dev/null
"${BUILDAH[@]}" images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$IMAGE"
rm -rf "$WORK"
