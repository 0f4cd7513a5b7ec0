# microdot-lua: `make run` serves examples/hello/app.lua, `make test` runs every test.
# Both install what is missing on a Debian machine first (you need to be root).

SWIFT ?= swift
PORT ?= 5000
APP ?= examples/hello/app.lua

.PHONY: deps run build release test stress bench clean

deps:
	@scripts/install-deps

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: build
	$(SWIFT) run microdot-lua $(APP) --port $(PORT)

test: build
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	python3 -m pytest -q Tests/oracle
	scripts/test-embed-example
	scripts/stress --binary .build/debug/microdot-lua --quick

# The full stress run: fuzz, slowloris, pipelining, a 1,000,000-request soak
# and mid-stream disconnects against the release build.
stress: release
	scripts/stress

# microdot-lua against a bare SwiftNIO server, nginx + Lua and Python Microdot:
# a table, bench-results/results.csv and bench-results/chart.png.
bench: release
	@scripts/install-deps --bench
	scripts/bench --no-build

clean:
	rm -rf .build examples/embed/.build
