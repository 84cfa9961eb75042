#!/usr/bin/env bash
# Makes sure a Redis answers at REDIS_URL's host and port. If none does and the address is loopback, starts
# one (redis-server from PATH, daemonized, nothing on disk). Otherwise stops with a clear message.
set -euo pipefail
url=${REDIS_URL:-redis://127.0.0.1:6379/0}
hostport=${url#redis://}; hostport=${hostport##*@}; hostport=${hostport%%/*}
host=${hostport%%:*}; port=${hostport##*:}; [ "$port" = "$host" ] && port=6379
ping() { (exec 3<>"/dev/tcp/$host/$port" && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null; }
if ping; then exit 0; fi
case "$host" in 127.*|localhost) ;; *) echo "No Redis answers at $host:$port (REDIS_URL); start it and retry." >&2; exit 1;; esac
if ! command -v redis-server >/dev/null 2>&1; then
  echo "No Redis answers at $host:$port and redis-server is not installed (apt-get install redis-server)." >&2
  exit 1
fi
mkdir -p .kiln
redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
  --dir "$PWD/.kiln" --logfile "$PWD/.kiln/redis.log" >/dev/null
for _ in $(seq 1 50); do ping && { echo "Started redis-server on $host:$port"; exit 0; }; sleep 0.1; done
echo "Started redis-server but it does not answer on $host:$port; see .kiln/redis.log" >&2
exit 1
