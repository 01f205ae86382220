#!/bin/bash
# The images' HEALTHCHECK: GET MERCATO_HEALTH_PATH (default /health/ready) on MERCATO_HEALTH_PORT of
# this container answers 200. Bash's /dev/tcp, so the images need no HTTP client.
set -u
exec 3<>"/dev/tcp/127.0.0.1/${MERCATO_HEALTH_PORT:?}" || exit 1
printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "${MERCATO_HEALTH_PATH:-/health/ready}" >&3
read -r -t 2 _ status _ <&3 || exit 1
[[ "$status" == 200 ]]
