#!/usr/bin/env bash
# Checks the tickcast alerting rules: promtool check rules (syntax, PromQL)
# and promtool test rules (the unit tests in tickcast-alerts.test.yml).
# Installs promtool (Debian/Ubuntu package prometheus) when it is missing.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v promtool > /dev/null; then
	if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq prometheus > /dev/null
fi

promtool check rules tickcast-alerts.yml
promtool test rules tickcast-alerts.test.yml
