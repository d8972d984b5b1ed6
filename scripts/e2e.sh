#!/usr/bin/env bash
# Runs the Playwright suite (arguments pass through to `playwright test`) inside a loopback-only
# network namespace, so the server and browsers it starts can reach nothing but 127.0.0.1:
#   as root:           unshare -n  (then brings lo up)
#   as another user:   unshare -rn (needs unprivileged user namespaces)
#   neither works:     runs directly, with a warning.  WEBRAY_E2E_NETNS=0 skips the namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

playwright=(node_modules/.bin/playwright test)
inner='ip link set lo up && exec "$@"'

if [[ "${WEBRAY_E2E_NETNS:-1}" != "0" ]] && command -v unshare >/dev/null && command -v ip >/dev/null; then
  if [[ "$(id -u)" == "0" ]] && unshare -n true 2>/dev/null; then
    exec unshare -n sh -c "$inner" sh "${playwright[@]}" "$@"
  elif unshare -rn sh -c 'ip link set lo up' 2>/dev/null; then
    exec unshare -rn sh -c "$inner" sh "${playwright[@]}" "$@"
  fi
fi

if [[ "${WEBRAY_E2E_NETNS:-1}" != "0" ]]; then
  echo "warning: cannot create a loopback-only network namespace (unshare -n / unshare -rn);" >&2
  echo "warning: running the browser tests on the machine's network instead." >&2
fi
exec "${playwright[@]}" "$@"
