#!/bin/bash
# Builds localhost/headwater-standin-kafka:4.1.1. The jars are resolved here on the host with
# Maven (once, into a cache folder) and copied into a temporary build context, so the image build
# downloads nothing but Debian's JRE.
#   CONTAINER_ENGINE=docker deploy/standins/kafka/build.sh     # default: podman
#   BASE_IMAGE=debian:bookworm-slim ...                        # default: localhost/debian:bookworm
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
engine=${CONTAINER_ENGINE:-podman}
tag=${KAFKA_STANDIN_TAG:-localhost/headwater-standin-kafka:4.1.1}
libs=${KAFKA_STANDIN_LIBS:-$HOME/.cache/headwater/standins/kafka-libs}

if ! compgen -G "$libs/kafka-tools-*.jar" >/dev/null; then
  # Into a staging folder first, so an interrupted resolve is not mistaken for a complete one.
  rm -rf "$libs.partial"
  mkdir -p "$(dirname "$libs")"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs.partial"
  rm -rf "$libs"
  mv "$libs.partial" "$libs"
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp -r "$libs" "$context/libs"
cp "$here"/{Containerfile,entrypoint.sh,kafka-run-class.sh,kafka-broker-api-versions.sh} "$context/"
cp "$here"/{log4j2.yaml,tools-log4j2.yaml} "$context/"
chmod 755 "$context"/*.sh

"$engine" build --network=host \
  --build-arg BASE_IMAGE="${BASE_IMAGE:-localhost/debian:bookworm}" \
  -f "$context/Containerfile" -t "$tag" "$context"
