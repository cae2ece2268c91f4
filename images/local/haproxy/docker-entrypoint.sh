#!/bin/sh
# Same contract as the official haproxy image: flags alone (`-c -f ...`) are passed to haproxy.
set -e
if [ "${1#-}" != "$1" ]; then
  set -- haproxy "$@"
fi
exec "$@"
