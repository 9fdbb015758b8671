#!/bin/sh
# deploy/docker/debian-base.sh [IMAGE] — makes the `debian:12` base image (default name
# debian:12) of deploy/Dockerfile from the Debian mirror, for machines without Docker Hub:
#   debootstrap --variant=minbase bookworm DIR; tar -C DIR -c . | docker import - IMAGE
# Does nothing when IMAGE exists. Needs root, debootstrap and a running Docker engine.
# Environment: TQ_DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -eu
IMAGE=${1:-debian:12}
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "debian-base: $IMAGE exists"
    exit 0
fi
DIR=$(mktemp -d "${TMPDIR:-/tmp}/tq-debian.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
debootstrap --variant=minbase bookworm "$DIR/root" "${TQ_DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
    >"$DIR/debootstrap.log" 2>&1 || {
    tail -n 20 "$DIR/debootstrap.log" >&2
    exit 1
}
# What a container image does not need: downloaded .debs and apt lists.
rm -rf "$DIR/root/var/cache/apt/archives/"*.deb "$DIR/root/var/cache/apt/"*.bin \
    "$DIR/root/var/lib/apt/lists/"*
# The security updates too, as in Docker Hub's debian:12.
printf 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n' \
    >"$DIR/root/etc/apt/sources.list"
tar -C "$DIR/root" -c . | docker import -c 'CMD ["bash"]' - "$IMAGE" >/dev/null
echo "debian-base: made $IMAGE with debootstrap ($(docker image inspect -f '{{.Size}}' "$IMAGE") bytes)"
