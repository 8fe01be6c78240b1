#!/bin/sh
# avrgen-test/asterisk: a STAND-IN for avr-asterisk (see the Dockerfile). At start it
# "boots": after CTL_DELAY seconds (default 0.5) the control socket's path exists (so
# `asterisk -rx` connects), after BOOT_DELAY more (default 1) the boot is done (so
# `core waitfullybooted` answers); then it loads every my_*.conf as Asterisk does at start
# (asterisk.sh: one line each in /var/log/asterisk/avrgen-standin.log, with the command
# `boot`) and waits for docker stop.
#   CRASH=1  print a line and exit 1 at start (fault tests)
set -u
run=/var/run/asterisk
rm -f "$run/asterisk.ctl" "$run/fully-booted"
if [ "${CRASH:-0}" = "1" ]; then
    echo "avrgen-test/asterisk: CRASH=1 set, exiting with status 1" >&2
    exit 1
fi
echo "avrgen-test/asterisk: stand-in for Asterisk starting on $(hostname)"
sleep "${CTL_DELAY:-0.5}"
: >"$run/asterisk.ctl"
sleep "${BOOT_DELAY:-1}"
/asterisk.sh --boot
: >"$run/fully-booted"
echo "avrgen-test/asterisk: fully booted"
trap 'exit 0' TERM INT
while :; do
    sleep 1 &
    wait $!
done
