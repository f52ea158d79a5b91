# davd — see README.md. Every target works on a fresh machine with Go.
GO ?= go
ADDR ?= 127.0.0.1:8080
DATA ?= ./data

# Stamped into the binary (davd version, davd --version), each computed once
# unless given: make dist VERSION=v1.2.0. Without a tag the version is
# "devel"; uncommitted changes to tracked files make the commit "-dirty".
VERSION := $(or $(VERSION),$(shell git describe --tags --dirty 2>/dev/null || echo devel))
COMMIT := $(or $(COMMIT),$(shell c=$$(git rev-parse HEAD 2>/dev/null) && { git diff --quiet HEAD 2>/dev/null && echo $$c || echo $$c-dirty; } || echo unknown))
DATE := $(or $(DATE),$(shell date -u +%Y-%m-%dT%H:%M:%SZ))
LDFLAGS = -X main.buildVersion=$(VERSION) -X main.buildCommit=$(COMMIT) -X main.buildDate=$(DATE)

.PHONY: build run test lint vet fmt clean bench fuzz dist man FORCE

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/davd ./cmd/davd

# Static binaries (no cgo: the SQLite driver is pure Go), stripped, for each
# of DIST_PLATFORMS, into dist/ as davd-OS-ARCH[.exe], with SHA256SUMS.
DIST_PLATFORMS = linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
define dist_rule
dist/davd-$(1)-$(2)$(if $(filter windows,$(1)),.exe): FORCE
	CGO_ENABLED=0 GOOS=$(1) GOARCH=$(2) $$(GO) build -trimpath -ldflags '-s -w $$(LDFLAGS)' -o $$@ ./cmd/davd
DIST_BINS += dist/davd-$(1)-$(2)$(if $(filter windows,$(1)),.exe)
endef
$(foreach p,$(DIST_PLATFORMS),$(eval $(call dist_rule,$(word 1,$(subst /, ,$(p))),$(word 2,$(subst /, ,$(p))))))

dist: $(DIST_BINS)
	cd dist && sha256sum $(notdir $(DIST_BINS)) > SHA256SUMS

# The manual page, generated from the command-line definition.
man:
	@mkdir -p dist
	$(GO) run ./cmd/davd man > dist/davd.1.tmp && mv dist/davd.1.tmp dist/davd.1

run:
	$(GO) run ./cmd/davd serve --addr $(ADDR) $(DATA)

# The whole suite: lint, then every test with the race detector. The litmus,
# curl and client tests need the Debian packages .ci/run installs.
test: lint
	$(GO) test -race -count=1 -timeout 25m ./...

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
	rm -rf bin dist
