# davd — see README.md. Every target works on a fresh machine with Go.
GO ?= go
ADDR ?= 127.0.0.1:8080
DATA ?= ./data

.PHONY: build run test lint vet fmt clean bench fuzz

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

# davd against find, cp -r, rm -rf, mv and plain x/net/webdav on generated
# trees; prints a Markdown table. BENCH_BIG=1 adds the 1M-file tree;
# BENCH_RUNS (default 3), BENCH_DIR, BENCH_DURATION, BENCH_SETTLE,
# BENCH_DAVD, BENCH_ONLY and BENCH_KEEP are described in cmd/davbench.
bench:
	GO='$(GO)' BENCH_BIG='$(BENCH_BIG)' BENCH_RUNS='$(BENCH_RUNS)' BENCH_DIR='$(BENCH_DIR)' \
	BENCH_DURATION='$(BENCH_DURATION)' BENCH_SETTLE='$(BENCH_SETTLE)' BENCH_DAVD='$(BENCH_DAVD)' \
	BENCH_ONLY='$(BENCH_ONLY)' BENCH_KEEP='$(BENCH_KEEP)' $(GO) run ./cmd/davbench

# Each fuzz target for FUZZTIME, one after the other (go test -fuzz takes one
# target at a time). The seed corpora in dav/testdata/fuzz/ also run as
# plain tests in `make test`; new failing inputs are written there.
FUZZTIME ?= 20s
FUZZ_TARGETS = FuzzIfHeader FuzzDestination FuzzXMLBody
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $$t ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) ./dav; \
	done

clean:
	rm -rf bin
