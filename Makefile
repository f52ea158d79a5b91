# davd — see README.md. Every target works on a fresh machine with Go.
GO ?= go
ADDR ?= 127.0.0.1:8080
DATA ?= ./data

.PHONY: build run test lint vet fmt clean

build:
	$(GO) build -o bin/davd ./cmd/davd

run:
	$(GO) run ./cmd/davd serve --addr $(ADDR) $(DATA)

# The whole suite: lint, then every test with the race detector. The litmus,
# curl and client tests need the Debian packages .ci/run installs.
test: lint
	$(GO) test -race -count=1 -timeout 8m ./...

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
