#!/usr/bin/env bash
# `make containers`: what the compose test needs on this machine. Installs podman, runc and
# debootstrap from Debian's packages when they are missing (as root), then checks that podman
# can run here with deploy/standins/containers.conf; a machine where it cannot fails with why.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export PATH="$PATH:/usr/sbin:/sbin"
missing=()
for tool in podman runc debootstrap; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "the compose test needs ${missing[*]}: apt-get install podman runc debootstrap" >&2
        exit 1
    fi
    echo "[containers] installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
fi
if ! CONTAINERS_CONF="$here/containers.conf" podman info >/dev/null 2>&1; then
    echo "podman cannot run containers on this machine:" >&2
    CONTAINERS_CONF="$here/containers.conf" podman info 2>&1 | tail -5 >&2
    exit 1
fi
