#!/usr/bin/env bash
# The whole test suite, as CI runs it: gofmt, go vet, staticcheck (pinned
# in go.mod as a tool), go test -race (fuzz seed corpora included), a
# one-iteration run of every Go benchmark, and the browser and Node
# client tests against the real binary. Installs chromium and npm
# packages when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

step gofmt
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './web/e2e/node_modules/*'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted:"; echo "$unformatted"; exit 1
fi

step go vet
go vet ./...

step staticcheck
go tool staticcheck ./...

step "go test -race"
go test -race -count=1 -timeout 10m ./...

step "statistical tests of the simulator, without -race (too slow under it)"
go test -count=1 -run 'Realism|Stylized' ./sim

step "benchmarks compile and run once"
go test -run '^$' -bench . -benchtime=1x -count=1 ./... > /dev/null

step "prometheus alert rules"
./deploy/prometheus/check.sh

step "browser and Node client tests"
if ! command -v chromium > /dev/null; then
	if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium > /dev/null
fi
bin="$(mktemp -d)/tickcast"
go build -o "$bin" ./cmd/tickcast
export TICKCAST_BIN="$bin"
for dir in web/e2e test/clients test/api test/nginx; do
	[ -f "$dir/package.json" ] || continue
	(cd "$dir" && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && npm test)
done

step "all passed"
