# microdot-lua: `make run` serves examples/hello/app.lua, `make test` runs every test.
# Both install what is missing on a Debian machine first (you need to be root).
# Python test tools live in a virtual environment ($(VENV)), never the system's.

SWIFT ?= swift
PORT ?= 5000
APP ?= examples/hello/app.lua
VENV ?= .venv
PYTHON := $(VENV)/bin/python
SWIFT_SOURCES := Sources Tests examples/embed/Sources Package.swift examples/embed/Package.swift

.PHONY: deps test-deps run build release test lint format stress bench bench-instructions clean

deps:
	@scripts/install-deps

test-deps:
	@VENV=$(VENV) scripts/install-deps --test

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: build
	$(SWIFT) run microdot-lua $(APP) --port $(PORT)

test: build test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(PYTHON) -m pytest -q Tests/oracle
	scripts/test-embed-example
	$(PYTHON) scripts/stress --binary .build/debug/microdot-lua --quick
	$(PYTHON) scripts/test-cluster --binary .build/debug/microdot-lua

# Fails on any finding: swift-format's lint (.swift-format) and luacheck (.luacheckrc).
lint: test-deps
	$(SWIFT) format lint --strict --recursive --parallel $(SWIFT_SOURCES)
	luacheck --no-color --quiet .

# Rewrites the Swift sources in place with the project's .swift-format.
format:
	$(SWIFT) format format --in-place --recursive --parallel $(SWIFT_SOURCES)

# The full stress run: fuzz, slowloris, pipelining, a 1,000,000-request soak
# and mid-stream disconnects against the release build.
stress: release test-deps
	$(PYTHON) scripts/stress

# microdot-lua against a bare SwiftNIO server, nginx + Lua and Python Microdot:
# a table, bench-results/results.csv and bench-results/chart.png.
bench: release
	@VENV=$(VENV) scripts/install-deps --bench
	$(PYTHON) scripts/bench --no-build

# User-space instructions per request from callgrind: counts that hold still
# on a noisy machine (COMPARE=path/to/another/microdot-lua adds a column).
bench-instructions: release
	@VENV=$(VENV) scripts/install-deps --bench
	$(PYTHON) scripts/instructions $(if $(COMPARE),--compare $(COMPARE))

clean:
	rm -rf .build examples/embed/.build
