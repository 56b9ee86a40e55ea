#!/bin/bash
# The compose health check: exits 0 when a broker at --bootstrap-server answers.
set -euo pipefail
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
