# make test: everything CI checks, from a fresh clone (installs what is
# missing: chromium via apt-get, npm packages for the browser tests).
.PHONY: test check gotest bench-check browser run peers

test:
	./scripts/test.sh

run:
	go run ./cmd/tickcast

# Quick Go-only checks while developing.
check:
	test -z "$$(gofmt -l .)"
	go vet ./...
	go tool staticcheck ./...
	go test -race ./...

# The side-by-side comparison with the SSE servers users would pick
# instead (bench/peers, a module of its own): a markdown table on stdout.
# make peers PEERS_ARGS="--clients 100 --rate 2000"
peers:
	cd bench/peers && go run . $(PEERS_ARGS)
