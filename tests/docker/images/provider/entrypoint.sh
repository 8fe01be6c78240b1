#!/bin/sh
# avrgen-test/provider: answers HTTP 200 on $PORT for GET (and HEAD) of
#   /  /speech-to-text-stream  /prompt-stream  /text-to-speech-stream  /health  /env
# Env:
#   PORT     required; exits 2 at once when unset or empty
#   CRASH=1  print a line and exit 1 at start (fault tests)
#   START_DELAY=N  serve only after N seconds: unhealthy meanwhile (interruption tests)
# Other methods (POST) get busybox httpd's "501 Not Implemented": the port answers.
set -u

if [ "${CRASH:-0}" = "1" ]; then
    echo "avrgen-test/provider: CRASH=1 set, exiting with status 1" >&2
    exit 1
fi
if [ -z "${PORT:-}" ]; then
    echo "avrgen-test/provider: PORT is not set, exiting with status 2" >&2
    exit 2
fi

if [ "${START_DELAY:-0}" -gt 0 ]; then
    echo "avrgen-test/provider: START_DELAY=$START_DELAY, serving after that"
    sleep "$START_DELAY"
fi

www=/www
mkdir -p "$www"
name=$(hostname)
for page in index.html speech-to-text-stream prompt-stream text-to-speech-stream health; do
    printf 'avrgen-test/provider %s on port %s: ok\n' "$name" "$PORT" >"$www/$page"
done
# the environment the container was started with, one VAR=value a line, sorted
env | sort >"$www/env"

echo "avrgen-test/provider: $name serving HTTP on port $PORT"
httpd -f -p "$PORT" -h "$www" &
pid=$!
# PID 1 ignores SIGTERM unless it handles it: stop at once on docker stop.
trap 'kill "$pid" 2>/dev/null; exit 0' TERM INT
wait "$pid"
status=$?
echo "avrgen-test/provider: httpd exited with status $status" >&2
exit "$status"
