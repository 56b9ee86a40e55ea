#!/bin/bash
# Starts the broker the way the apache/kafka image does: every KAFKA_* variable is a
# server.properties entry (KAFKA_ stripped, lower-cased; `_` -> `.`, `__` -> `_`, `___` -> `-`),
# the storage is formatted once with CLUSTER_ID, then kafka.Kafka runs in the foreground.
set -euo pipefail

home=/opt/kafka
props=$home/config/server.properties

# Variables that configure the JVM or the image, not the broker (apache/kafka skips the same).
is_jvm_var() {
  case $1 in
    KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_LOG4J_OPTS | KAFKA_JMX_OPTS | \
      KAFKA_GC_LOG_OPTS | KAFKA_DEBUG | KAFKA_HOME | KAFKA_VERSION | KAFKA_JMX_PORT | \
      KAFKA_JMX_HOSTNAME | KAFKA_LOG4J_ROOT_LOGLEVEL | KAFKA_LOG4J_LOGGERS | \
      KAFKA_TOOLS_LOG4J_LOGLEVEL) return 0 ;;
  esac
  return 1
}

: >"$props"
while IFS= read -r var; do
  is_jvm_var "$var" && continue
  key=$(printf '%s' "${var#KAFKA_}" | tr '[:upper:]' '[:lower:]' |
    sed -e 's/___/\x01/g' -e 's/__/\x02/g' -e 's/_/./g' -e 's/\x01/-/g' -e 's/\x02/_/g')
  printf '%s=%s\n' "$key" "${!var}" >>"$props"
done < <(compgen -e | grep '^KAFKA_' | sort)

# No broker settings at all: a single local node, like the apache/kafka image's default config.
if [ ! -s "$props" ]; then
  cat >"$props" <<'PROPS'
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:9093
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
advertised.listeners=PLAINTEXT://localhost:9092
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=/var/lib/kafka/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
  : "${CLUSTER_ID:=5L6g3nShT-eMCtK--X86sw}"
fi

log4j=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$home/config/log4j2.yaml}
jvm_perf=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}

# Format once: --ignore-formatted makes later starts (a kept volume) a no-op. A static quorum
# (controller.quorum.voters) needs nothing more; a dynamic one (only bootstrap servers) needs
# --standalone for this single controller.
if [ -n "${CLUSTER_ID:-}" ]; then
  format=(format -t "$CLUSTER_ID" -c "$props" --ignore-formatted)
  if ! grep -q '^controller\.quorum\.voters=.' "$props" && grep -q '^process\.roles=.*controller' "$props"; then
    format+=(--standalone)
  fi
  # shellcheck disable=SC2086  # option strings are word lists, as in kafka-run-class.sh
  java -Xmx256m $log4j -cp "$home/libs/*" kafka.tools.StorageTool "${format[@]}"
fi

# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} $jvm_perf $log4j ${KAFKA_OPTS:-} \
  -cp "$home/libs/*" kafka.Kafka "$props"
