# make test: everything CI checks, from a fresh clone (installs what is
# missing: chromium via apt-get, npm packages for the browser tests).
.PHONY: test check gotest bench-check browser run

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
