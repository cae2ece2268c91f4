#!/usr/bin/env bash
# Docker HEALTHCHECK probe of the API (`bash dist/api/healthcheck.sh [path] [timeoutMs]`): exit 0 iff GET <path>
# (default /up, the readiness endpoint) on 127.0.0.1:$PORT answers 2xx within timeoutMs (default 2000; the stack
# passes its own budget). On failure it prints why (the status and the body, or the connection error): Docker keeps
# that output in the container's health log, and a failed rollout quotes it.
# Plain bash and its /dev/tcp, not node: Docker runs the probe every second in every replica, and starting node costs
# ~0.25 s of CPU each time (a 2-core host with a dozen replicas spent most of its CPU probing) where this costs ~1 ms.
path="${1:-/up}"
timeout_ms="${2:-2000}"
port="${PORT:-3000}"
case "$timeout_ms" in '' | *[!0-9]*) echo "healthcheck: timeoutMs must be a number of milliseconds, got '$timeout_ms'"; exit 2 ;; esac
seconds="$((timeout_ms / 1000)).$(printf '%03d' $((timeout_ms % 1000)))"
if ! { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
  echo "GET $path: connection refused (127.0.0.1:$port)"
  exit 1
fi
printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$path" "$port" >&3
if ! IFS= read -r -t "$seconds" status <&3; then
  echo "GET $path: no answer within $timeout_ms ms"
  exit 1
fi
[[ "$status" =~ ^HTTP/1\.[01]\ 2[0-9][0-9] ]] && exit 0
IFS= read -r -d '' -t 1 -n 4096 rest <&3
body="${rest#*$'\r\n\r\n'}"
code="${status#* }"
echo "GET $path: ${code%%[[:space:]]*} ${body:0:300}"
exit 1
