#!/bin/sh
# Runs a program inside a named network namespace: the executablePath Playwright launches for a
# browser on one "machine" of e2e/net/topology.ts (Playwright's control pipe, fds 3 and 4, passes
# through). WEBRAY_NETNS names the namespace, WEBRAY_NETNS_EXEC the program; the program dies
# with the process that launched it, even one killed outright (setpriv --pdeathsig).
set -eu
: "${WEBRAY_NETNS:?WEBRAY_NETNS must name the network namespace}"
: "${WEBRAY_NETNS_EXEC:?WEBRAY_NETNS_EXEC must name the program}"
exec ip netns exec "$WEBRAY_NETNS" setpriv --pdeathsig KILL -- "$WEBRAY_NETNS_EXEC" "$@"
