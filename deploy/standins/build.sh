#!/usr/bin/env bash
# Build every image the compose stack needs where no registry can be reached:
#   1. a Debian bookworm base made with debootstrap (localhost/debian:bookworm; needs root, once),
#   2. a Python 3.11 base on it (localhost/headwater-python:3.11-bookworm),
#   3. the stand-ins for Kafka, ClickHouse and HAProxy (deploy/standins/*/),
#   4. Headwater's own image from deploy/Dockerfile on that Python base (headwater:0.1.0).
# Behind a TLS-intercepting proxy, SSL_CERT_FILE (its CA bundle) is passed to the builds that
# use pip as the secret `cacert`. CONTAINER_ENGINE picks the builder (default podman).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
engine="${CONTAINER_ENGINE:-podman}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"

exists() { "$engine" image exists "$1" 2>/dev/null; }
say() { echo "[standins] $*" >&2; }

if ! exists localhost/debian:bookworm; then
    command -v debootstrap >/dev/null || { say "debootstrap is needed: apt-get install debootstrap"; exit 1; }
    [ "$(id -u)" = 0 ] || { say "making the Debian base needs root (debootstrap)"; exit 1; }
    rootfs="$(mktemp -d)"
    trap 'rm -rf "$rootfs"' EXIT
    say "debootstrap bookworm (about 30 s)"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
    tar -C "$rootfs" -c . | "$engine" import - localhost/debian:bookworm >/dev/null
fi
if ! exists localhost/headwater-python:3.11-bookworm; then
    say "python base"
    "$engine" build --network=host -q -t localhost/headwater-python:3.11-bookworm "$here/python" >/dev/null
fi

options=()  # for Headwater's image: the proxy's CA, and podman's name for the ignore file
if [ -n "${SSL_CERT_FILE:-}" ] && [ -s "$SSL_CERT_FILE" ]; then
    options+=(--secret "id=cacert,src=$SSL_CERT_FILE")
fi
if [ "$(basename "$engine")" = podman ]; then  # docker finds Dockerfile.dockerignore itself
    options+=(--ignorefile "$root/deploy/Dockerfile.dockerignore")
fi
export CONTAINER_ENGINE="$engine"
say "kafka stand-in"; bash "$here/kafka/build.sh"
say "clickhouse stand-in"; bash "$here/clickhouse/build.sh"
say "haproxy stand-in"
"$engine" build --network=host -q -t localhost/headwater-standin-haproxy:2.6 "$here/haproxy" >/dev/null
say "headwater image"
"$engine" build --network=host -q "${options[@]}" \
    --build-arg PYTHON_IMAGE=localhost/headwater-python:3.11-bookworm \
    -f "$root/deploy/Dockerfile" -t headwater:0.1.0 "$root" >/dev/null
say "done"
