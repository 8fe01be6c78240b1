#!/bin/sh
# avrgen-test/asterisk's `asterisk` command: a STAND-IN for Asterisk's remote console, only
# `asterisk -rx "<command>"` (what avrgen runs through `docker exec`). Not Asterisk: it
# parses nothing but the #include / #tryinclude lines and `[name](+)` headers.
#
#   core waitfullybooted          waits until the entrypoint's boot is done, then
#                                 "Asterisk has fully booted."; before the control socket
#                                 exists it fails at once, as Asterisk's does
#   dialplan reload               loads my_extensions.conf
#   module reload pbx_config.so   the same
#   module reload res_pjsip.so    loads my_pjsip.conf
#   manager reload                loads my_manager.conf
#   module reload res_ari.so      loads my_ari.conf
#
# "Loading" a file appends one line to /var/log/asterisk/avrgen-standin.log:
#   <command>|<file>=<sha256>|<included file>=<sha256 or missing>|...
# (the file, then each file it includes, in order; digests only, never contents), and to
# /var/log/asterisk/avrgen-standin.errors each `[name](+)` of an included file that adds to
# no section of the file including it (Asterisk refuses such an addition).
# Exit status 0 when the command ran; 1 when Asterisk is not running yet or the command is
# unknown.
set -u
conf=/etc/asterisk
run=/var/run/asterisk
log=/var/log/asterisk/avrgen-standin.log
errors=/var/log/asterisk/avrgen-standin.errors


digest() { # file: its sha256, or "missing"
    if [ -f "$1" ]; then sha256sum "$1" | cut -d' ' -f1; else echo missing; fi
}

load() { # command, file name under /etc/asterisk
    file=$conf/$2
    line="$1|$2=$(digest "$file")"
    if [ -f "$file" ]; then
        for path in $(sed -n 's/^[[:space:]]*#\(try\)\{0,1\}include[[:space:]]*"\{0,1\}\([^"]*\)"\{0,1\}[[:space:]]*$/\2/p' "$file"); do
            case "$path" in /*) ;; *) path=$conf/$path ;; esac
            line="$line|$path=$(digest "$path")"
            [ -f "$path" ] || continue
            for section in $(sed -n 's/^[[:space:]]*\[\([^]]*\)\](+)[[:space:]]*$/\1/p' "$path"); do
                grep -q "^[[:space:]]*\[$section\]" "$file" ||
                    echo "$1: $path: [$section](+) adds to no section of $2" >>"$errors"
            done
        done
    fi
    echo "$line" >>"$log"
}

if [ "$#" -eq 1 ] && [ "$1" = "--boot" ]; then # the entrypoint's start: every file
    for name in my_extensions.conf my_pjsip.conf my_manager.conf my_ari.conf; do
        load boot "$name"
    done
    exit 0
fi
if [ "$#" -ne 2 ] || [ "$1" != "-rx" ]; then
    echo "avrgen-test/asterisk: stand-in; only asterisk -rx \"<command>\" is provided" >&2
    exit 1
fi
command=$2
if [ ! -e "$run/asterisk.ctl" ]; then
    echo "Unable to connect to remote asterisk (does $run/asterisk.ctl exist?)"
    exit 1
fi

case "$command" in
    "core waitfullybooted")
        while [ ! -e "$run/fully-booted" ]; do sleep 0.1; done
        echo "Asterisk has fully booted."
        ;;
    "dialplan reload" | "module reload pbx_config.so")
        load "$command" my_extensions.conf
        echo "Dialplan reloaded."
        ;;
    "module reload res_pjsip.so")
        load "$command" my_pjsip.conf
        echo "Module 'res_pjsip.so' reloaded successfully."
        ;;
    "manager reload")
        load "$command" my_manager.conf
        ;;
    "module reload res_ari.so")
        load "$command" my_ari.conf
        echo "Module 'res_ari.so' reloaded successfully."
        ;;
    *)
        echo "No such command '$command' (type 'core show help ${command%% *}' for other possible commands)"
        exit 1
        ;;
esac
