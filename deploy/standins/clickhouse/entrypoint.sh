#!/bin/bash
# Starts the chdb-based ClickHouse stand-in the way the official image's entrypoint starts
# clickhouse-server: users and database from CLICKHOUSE_USER / CLICKHOUSE_PASSWORD /
# CLICKHOUSE_DB / CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT, data in /var/lib/clickhouse, HTTP on 8123.
set -euo pipefail

conf=/etc/clickhouse-server        # chdb_server.py's DIR: config.xml here, data in DIR/data
user=${CLICKHOUSE_USER:-default}
password=${CLICKHOUSE_PASSWORD:-}
db=${CLICKHOUSE_DB:-}
access=${CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT:-0}
log() { echo "[clickhouse-standin] $*" >&2; }

# Names go into XML element names and SQL unquoted: keep them to what both accept.
for name in "$user" ${db:+"$db"}; do
  [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { log "unsupported name: $name"; exit 2; }
done
# chdb's in-process session logs in as `default` without a password, so `default` cannot get one.
if [ "$user" = default ] && [ -n "$password" ]; then
  log "CLICKHOUSE_PASSWORD needs a CLICKHOUSE_USER other than default here"; exit 2
fi

# Both address families, tolerating whichever the container lacks (as the official image does).
cat > "$conf/config.xml" <<XML
<clickhouse>
  <http_port>8123</http_port>
  <tcp_port>9000</tcp_port>
  <listen_host>::</listen_host>
  <listen_host>0.0.0.0</listen_host>
  <listen_try>1</listen_try>
  <user_directories><users_xml><path>users.xml</path></users_xml></user_directories>
</clickhouse>
XML

# `default` only from inside the container (the health check, chdb itself); the configured user
# from anywhere, with the password as a SHA-256 so no XML escaping is needed and no plain copy
# is written.
if [ -n "$password" ]; then
  secret="<password_sha256_hex>$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)</password_sha256_hex>"
else
  secret="<password></password>"
fi
other=""
if [ "$user" != default ]; then
  other="<$user>$secret<networks><ip>::/0</ip></networks><profile>default</profile>
      <quota>default</quota><access_management>$access</access_management></$user>"
fi
umask 077
cat > "$conf/users.xml" <<XML
<clickhouse>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile><quota>default</quota></default>
    $other
  </users>
  <profiles><default/></profiles>
  <quotas><default/></quotas>
</clickhouse>
XML
unset secret other

/opt/chdb/bin/python /opt/chdb-server/chdb_server.py "$conf" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null' TERM INT

# Wait for the listener, then make the database (idempotent, so every start may do it).
for _ in $(seq 600); do
  kill -0 "$server" 2>/dev/null || { wait "$server"; exit $?; }
  wget -q -O /dev/null http://127.0.0.1:8123/ping && break
  sleep 0.1
done
if [ -n "$db" ]; then
  # Through HTTP as the configured user; python so the password is not in any process's argv.
  CH_DB=$db CH_USER=$user /opt/chdb/bin/python - <<'PY'
import os, urllib.request
request = urllib.request.Request(
    "http://127.0.0.1:8123/", data=f"CREATE DATABASE IF NOT EXISTS `{os.environ['CH_DB']}`".encode(),
    headers={"X-ClickHouse-User": os.environ["CH_USER"],
             "X-ClickHouse-Key": os.environ.get("CLICKHOUSE_PASSWORD", "")})
urllib.request.urlopen(request, timeout=30).read()
PY
  log "database $db ready"
fi
log "serving HTTP on :8123 as user $user"

# Until the server ends; SIGTERM (docker stop) is passed on and counts as a clean stop.
status=0
wait "$server" || status=$?
if [ "$status" -gt 128 ]; then wait "$server" || status=$?; fi
[ "$status" = 143 ] && status=0
exit "$status"
