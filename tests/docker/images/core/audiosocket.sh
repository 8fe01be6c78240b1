#!/bin/sh
# One AudioSocket connection (nc -ll -e): the first frame is what Asterisk's
# Dial(AudioSocket/host:port/${UUID}) sends: kind 0x01, length 0x0010, then the 16 bytes
# of the call's UUID. Its UUID is appended to /www/audiosocket (one a line, 8-4-4-4-12
# lower-case hex); a first frame of another kind or length is appended to
# /www/audiosocket-errors as hex. The rest (audio frames) is read and dropped.
hex=$(head -c 19 | od -An -v -tx1 | tr -d ' \n')
case "$hex" in
    010010????????????????????????????????)
        u=${hex#010010}
        echo "${u:0:8}-${u:8:4}-${u:12:4}-${u:16:4}-${u:20:12}" >>/www/audiosocket
        ;;
    *)
        echo "first frame: ${hex:-empty}" >>/www/audiosocket-errors
        ;;
esac
exec cat >/dev/null
