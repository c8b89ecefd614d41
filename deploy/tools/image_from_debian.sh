#!/usr/bin/env bash
# Build a service image where no container registry is reachable, from Debian packages only:
# 1. mmdebstrap makes a minimal Debian root filesystem (python3, its venv module, passwd,
#    ca-certificates) and `buildah from scratch` commits it as the base igny8/python-base:<suite>;
# 2. `buildah bud` builds deploy/Dockerfile on that base (PYTHON_IMAGE), exactly as `make images`
#    does on the official python image: multi-stage, uv from the lock, user 10001.
# vfs storage and chroot isolation: no daemon, no overlay filesystem, no user namespaces needed.
# Usage (root): deploy/tools/image_from_debian.sh <service> [tag]   (`make image-debian`)
set -euo pipefail
SERVICE=${1:?service name}
TAG=${2:-dev}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=${DEBIAN_SUITE:-bookworm}
CACHE=$ROOT/.cache/image
BASE_TAR=$CACHE/debian-$SUITE-python3-base.tar
BASE_IMAGE=localhost/igny8/python-base:$SUITE
IMAGE=localhost/igny8/$SERVICE:$TAG-debian
BUILDAH=(buildah --storage-driver vfs)
mkdir -p "$CACHE"
# The build host's CA bundle, for a TLS-inspecting proxy between the build and PyPI (see Dockerfile).
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
SECRET=()
[ -s "$CA_BUNDLE" ] && SECRET=(--secret "id=ca-bundle,src=$CA_BUNDLE")

if ! "${BUILDAH[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    if [ ! -s "$BASE_TAR" ]; then
        echo "[image] Debian $SUITE root filesystem with mmdebstrap → $BASE_TAR"
        mmdebstrap --variant=minbase --include=python3,python3-venv,passwd,ca-certificates \
            "$SUITE" "${BASE_TAR%.tar}.partial.tar"
        mv "${BASE_TAR%.tar}.partial.tar" "$BASE_TAR"
    fi
    echo "[image] buildah from scratch → $BASE_IMAGE"
    ctr=$("${BUILDAH[@]}" from scratch)
    "${BUILDAH[@]}" add "$ctr" "$BASE_TAR" /
    "${BUILDAH[@]}" run --isolation chroot "$ctr" -- sh -c \
        'rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/* /usr/share/doc/* /usr/share/man/* /usr/share/locale/*'
    "${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
        --cmd python3 --label "org.opencontainers.image.title=python-base-debian-$SUITE" "$ctr"
    "${BUILDAH[@]}" commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null
fi

echo "[image] buildah bud deploy/Dockerfile on $BASE_IMAGE → $IMAGE"
"${BUILDAH[@]}" bud --quiet --isolation chroot --pull-never --layers "${SECRET[@]}" \
    --build-arg "PYTHON_IMAGE=$BASE_IMAGE" --build-arg "SERVICE=$SERVICE" \
    -f "$ROOT/deploy/Dockerfile" -t "$IMAGE" "$ROOT" >/dev/null

echo "[image] smoke test: the entrypoint answers, as user 10001"
check=$("${BUILDAH[@]}" from --pull-never "$IMAGE")
"${BUILDAH[@]}" run --isolation chroot "$check" -- /app/service --help | head -2
"${BUILDAH[@]}" run --isolation chroot "$check" -- id -u
"${BUILDAH[@]}" rm "$check" >/dev/null
for image in "$BASE_IMAGE" "$IMAGE"; do
    "${BUILDAH[@]}" images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$image"
done
