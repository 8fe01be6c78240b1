#!/bin/sh
# One AudioSocket connection: read and drop everything until the peer closes.
exec cat >/dev/null
