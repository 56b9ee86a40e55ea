#!/bin/bash
# Builds localhost/headwater-standin-clickhouse:26.9. The 180 MB chdb-core wheel is downloaded
# here on the host (once, into a cache folder) and bind-mounted into the build, so the image
# build downloads nothing but Debian's wget. Headwater's own chdb server
# (headwater/stack/chdb_server.py, the verified way to serve chdb over HTTP) is copied in from
# the repository, so the stand-in and `headwater` serve the engine with the same code.
#   CONTAINER_ENGINE=docker deploy/standins/clickhouse/build.sh   # default: podman
#   BASE_IMAGE=python:3.11-slim-bookworm ...   # default: localhost/headwater-python:3.11-bookworm
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
engine=${CONTAINER_ENGINE:-podman}
tag=${CLICKHOUSE_STANDIN_TAG:-localhost/headwater-standin-clickhouse:26.9}
wheels=${CLICKHOUSE_STANDIN_WHEELS:-$HOME/.cache/headwater/standins/wheels}
pip=${PIP:-$root/.venv/bin/pip}
version=26.9.0   # the engine Headwater pins (pyproject.toml's chdb-core)

# pip download writes the file under its final name only when complete; it picks the host's
# platform, which is the image's for a native build.
if ! compgen -G "$wheels/chdb_core-$version-*.whl" >/dev/null; then
  mkdir -p "$wheels"
  "$pip" download "chdb-core==$version" --no-deps -d "$wheels"
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
mkdir "$context/wheels"
# Hard links where the cache and /tmp share a file system; a copy otherwise.
cp -l "$wheels"/chdb_core-"$version"-*.whl "$context/wheels/" 2>/dev/null \
  || cp "$wheels"/chdb_core-"$version"-*.whl "$context/wheels/"
cp "$here"/{Containerfile,entrypoint.sh} "$root/headwater/stack/chdb_server.py" "$context/"
chmod 755 "$context/entrypoint.sh"
chmod 644 "$context/chdb_server.py"

"$engine" build --network=host \
  --build-arg BASE_IMAGE="${BASE_IMAGE:-localhost/headwater-python:3.11-bookworm}" \
  -f "$context/Containerfile" -t "$tag" "$context"
