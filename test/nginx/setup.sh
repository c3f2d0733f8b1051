#!/usr/bin/env bash
# Installs what the nginx test needs when it is missing: Debian's nginx,
# chromium (driven by playwright-core, no browser download) and openssl
# (the test's self-signed certificate). With sudo when not root.
set -euo pipefail
missing=()
command -v nginx > /dev/null || [ -x /usr/sbin/nginx ] || [ -n "${NGINX:-}" ] || missing+=(nginx)
command -v chromium > /dev/null || [ -n "${CHROMIUM:-}" ] || missing+=(chromium)
command -v openssl > /dev/null || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
echo "setup.sh: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" > /dev/null
