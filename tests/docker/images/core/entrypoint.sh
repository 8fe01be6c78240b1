#!/bin/sh
# avrgen-test/core: a stand-in for avr-core.
#   $PORT       AudioSocket (TCP): each connection's first frame (kind 0x01, length 0x0010,
#               16 bytes of UUID) is recorded in /audiosocket (one UUID a line), the rest
#               dropped (audiosocket.sh)
#   $HTTP_PORT  HTTP (http.sh): GET /health (200 while running), /report, /ready, /env,
#               /audiosocket; POST /call appends its body to /calls (GET /calls: one a line)
# Every CHECK_INTERVAL seconds (default 2) it GETs each of ASR_URL, LLM_URL, TTS_URL
# and STS_URL that is set (ws://host:port becomes http://host:port/) and writes
# /report, one line a URL:
#     ASR_URL=http://avr-asr-x:6001/speech-to-text-stream ok
#     STS_URL=ws://avr-sts-demo:6033 fail
# after a first line "# check N". /ready answers 200 only when the last check found
# every URL ok (and at least one URL is set); otherwise 404.
# PORT and HTTP_PORT are required: exits 2 at once when either is unset.
set -u

for var in PORT HTTP_PORT; do
    eval "value=\${$var:-}"
    if [ -z "$value" ]; then
        echo "avrgen-test/core: $var is not set, exiting with status 2" >&2
        exit 2
    fi
done
interval=${CHECK_INTERVAL:-2}
www=/www
mkdir -p "$www"
echo ok >"$www/health"
: >"$www/calls"
: >"$www/audiosocket"
printf '# check 0\n' >"$www/report"
env | sort >"$www/env"

check_once() {
    n=$1
    tmp="$www/.report.tmp"
    printf '# check %s\n' "$n" >"$tmp"
    set_count=0
    ok_count=0
    for var in ASR_URL LLM_URL TTS_URL STS_URL; do
        eval "url=\${$var:-}"
        [ -n "$url" ] || continue
        set_count=$((set_count + 1))
        case "$url" in
            ws://*) probe="http://${url#ws://}" ;;
            wss://*) probe="https://${url#wss://}" ;;
            *) probe="$url" ;;
        esac
        # ws://host:port has no path: ask for /
        case "${probe#*://}" in
            */*) ;;
            *) probe="$probe/" ;;
        esac
        # not `wget -T`: Debian's busybox 1.35 wget segfaults with -T
        if timeout 3 wget -q -O /dev/null "$probe" 2>/dev/null; then
            echo "$var=$url ok" >>"$tmp"
            ok_count=$((ok_count + 1))
        else
            echo "$var=$url fail" >>"$tmp"
        fi
    done
    mv -f "$tmp" "$www/report"
    if [ "$set_count" -gt 0 ] && [ "$ok_count" -eq "$set_count" ]; then
        echo ready >"$www/ready"
    else
        rm -f "$www/ready"
    fi
}

name=$(hostname)
echo "avrgen-test/core: $name AudioSocket on port $PORT, HTTP on port $HTTP_PORT"
nc -ll -p "$PORT" -e /audiosocket.sh &
nc_pid=$!
nc -ll -p "$HTTP_PORT" -e /http.sh &
http_pid=$!
(
    n=1
    while :; do
        check_once "$n"
        n=$((n + 1))
        sleep "$interval"
    done
) &
check_pid=$!

# shellcheck disable=SC2317 # invoked by the trap below
stop() {
    kill "$nc_pid" "$http_pid" "$check_pid" 2>/dev/null
    exit 0
}
# PID 1 ignores SIGTERM unless it handles it: stop at once on docker stop.
trap stop TERM INT

# Exit (so the container stops, visibly) when a listener dies.
while kill -0 "$nc_pid" 2>/dev/null && kill -0 "$http_pid" 2>/dev/null; do
    sleep 1 &
    wait $!
done
echo "avrgen-test/core: a listener exited, stopping" >&2
kill "$nc_pid" "$http_pid" "$check_pid" 2>/dev/null
exit 1
