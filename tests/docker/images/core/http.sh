#!/bin/sh
# One HTTP connection on HTTP_PORT (nc -ll -e; busybox httpd cannot route a POST to /call):
#   GET or HEAD /NAME   the file /www/NAME: 200 with its bytes, else 404
#   POST /call          the body (Content-Length bytes) appended to /www/calls, one a line;
#                       200 {"status":"ok"}
# Anything else: 405. Every answer closes the connection.
www=/www
cr=$(printf '\r')

answer() { # status, body
    printf 'HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
        "$1" "${#2}" "$2"
}

IFS= read -r request || exit 0
request=${request%"$cr"}
method=${request%% *}
target=${request#* }
target=${target%% *}
target=${target%%\?*}
length=0
while IFS= read -r header; do
    header=${header%"$cr"}
    [ -n "$header" ] || break
    case "$header" in
        [Cc]ontent-[Ll]ength:*) length=$(echo "${header#*:}" | tr -cd '0-9') ;;
        [Ee]xpect:*100-continue*) printf 'HTTP/1.1 100 Continue\r\n\r\n' ;;
    esac
done
case "$method $target" in
    "POST /call")
        body=$(head -c "${length:-0}")
        printf '%s\n' "$body" >>"$www/calls"
        answer "200 OK" '{"status":"ok"}'
        ;;
    "GET /"* | "HEAD /"*)
        name=${target#/}
        case "$name" in
            "" | */* | .*) file="" ;;
            *) file="$www/$name" ;;
        esac
        if [ -n "$file" ] && [ -f "$file" ]; then
            size=$(wc -c <"$file")
            printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' "$size"
            [ "$method" = HEAD ] || cat "$file"
        else
            answer "404 Not Found" "not found: $target
"
        fi
        ;;
    *)
        answer "405 Method Not Allowed" "$method $target: not served here
"
        ;;
esac
