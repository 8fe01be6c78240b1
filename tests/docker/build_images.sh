#!/usr/bin/env bash
# Build the test images avrgen's docker tests run, FROM scratch with the host's
# static busybox (Debian package busybox-static), with the classic builder
# (no buildx here). Idempotent: the build cache makes a rebuild a no-op.
#
#   tests/docker/build_images.sh            build every image
#   BUSYBOX=/path/to/busybox tests/docker/build_images.sh
#
# Tags: avrgen-test/provider:1, avrgen-test/core:1 and avrgen-test/asterisk:1 (a stand-in
# for avr-asterisk, not Asterisk). Each carries the label avrgen-test.context, the digest
# of its build context (tests/dockerenv.py computes the same one and rebuilds an image
# whose label differs: an engine holding an older build gets the new one).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
images="$here/images"
busybox=${BUSYBOX:-/bin/busybox}
docker=${DOCKER:-docker}

if [ ! -x "$busybox" ]; then
    echo "build_images.sh: $busybox not found: apt-get install busybox-static" >&2
    exit 1
fi
if ! "$busybox" true; then
    echo "build_images.sh: $busybox does not run" >&2
    exit 1
fi

for name in provider core asterisk; do
    ctx="$images/$name"
    # cp only when it differs, so the build cache (keyed on content) stays warm
    if ! cmp -s "$busybox" "$ctx/busybox"; then
        cp "$busybox" "$ctx/busybox"
        chmod 0755 "$ctx/busybox"
    fi
    # sha256 of `sha256sum` of the context's files in byte order: dockerenv.context_digest()
    digest=$(cd "$ctx" && find . -type f | sed 's#^\./##' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
    start=$(date +%s)
    # the classic builder prints a deprecation notice on stderr: show the output
    # only when the build fails
    if ! out=$(DOCKER_BUILDKIT=0 "$docker" build -t "avrgen-test/$name:1" \
        --label "avrgen-test.context=$digest" "$ctx" 2>&1); then
        printf '%s\n' "$out" >&2
        echo "build_images.sh: building avrgen-test/$name:1 failed" >&2
        exit 1
    fi
    echo "build_images.sh: avrgen-test/$name:1 built in $(($(date +%s) - start))s"
done
