#!/bin/bash
# Runs one Kafka class from the image's jars, as the release's bin/kafka-run-class.sh does:
# kafka-run-class.sh CLASS [ARGS...]. Logs go to stderr at ERROR (tools-log4j2.yaml).
set -euo pipefail
home=/opt/kafka
# A small heap for a short-lived tool, unless KAFKA_HEAP_OPTS says otherwise (as upstream).
# shellcheck disable=SC2086  # option strings are word lists
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$home/config/tools-log4j2.yaml" ${KAFKA_OPTS:-} \
  -cp "$home/libs/*" "$@"
