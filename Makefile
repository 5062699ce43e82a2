# One command surface: the README shows these targets and .ci/run calls `make test`.
# Every target installs what it needs and is quick when it is already there.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never
# A CI run builds once: incremental caches (half a gigabyte of a fresh clone) would never be read.
ifeq ($(CI),true)
export CARGO_INCREMENTAL ?= 0
endif

# Build noise (cargo's downloads and compiles, maturin, npm) goes to this log; a step that
# fails prints the log's end.
LOG := $(CURDIR)/artifacts/build.log
logged = mkdir -p $(dir $(LOG)); { $(1); } >>$(LOG) 2>&1 || { status=$$?; echo "failed: $(1); the end of $(LOG):" >&2; tail -40 $(LOG) >&2; exit $$status; }

.PHONY: action artifacts checks dist lint-workflows test-build-rust fuzz reliability bench bench-smoke setup-bench demo-web demo-core setup setup-wasm setup-python setup-browser setup-registry demo lint lint-rust lint-npm lint-python test test-rust test-npm test-python npm python

# wasm-bindgen's CLI must be the exact version the crate is locked to.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/{getline; gsub(/[^0-9.]/,""); print}' Cargo.lock)
# The release builds have target directories of their own, so that `make test` can build them
# side by side (one cargo per target directory at a time).
WASM_OUT := target/wasm/wasm32-unknown-unknown/release/regprune_wasm.wasm

## setup: the Rust toolchain pieces the checks need (idempotent)
setup:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

## setup-wasm: the wasm32 target, wasm-bindgen-cli at the pinned version, npm dev packages
setup-wasm: setup
	@rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@[ "$$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $(WASM_BINDGEN_VERSION)" ] || { echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (cargo install, about 3 minutes; log: $(LOG))" >&2; $(call logged,cargo install --quiet wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)); }
	@[ -x npm/node_modules/.bin/tsc ] && [ -x npm/node_modules/.bin/wasm-opt ] && [ -x npm/node_modules/.bin/esbuild ] && [ -f npm/node_modules/axe-core/axe.min.js ] || (cd npm && npm install --no-audit --no-fund --silent)

WASM_SOURCES := $(shell find core/src bindings-wasm/src -name '*.rs') Cargo.toml Cargo.lock core/Cargo.toml bindings-wasm/Cargo.toml

# wasm-opt comes from the npm package binaryen (pinned in npm/package.json): Debian's binaryen
# is too old for the reference types rustc now emits, and breaks the module.
# -ocimfs: binaryen inlines every function that has one caller, whatever its size; V8 compiles
# and optimizes per function, so a rare branch inlined into a hot function (the 14 KB tag
# re-listing into the response handler) was optimized with it on every execution. Planning
# speed is unchanged (bench/FINDINGS.md).
npm/wasm/regprune_bg.wasm: $(WASM_SOURCES) | setup-wasm
	@$(call logged,$(CARGO) build -p regprune-wasm --target wasm32-unknown-unknown --release --target-dir target/wasm)
	wasm-bindgen --target web --out-dir npm/wasm --out-name regprune $(WASM_OUT)
	npm/node_modules/.bin/wasm-opt -O3 -ocimfs=500 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue npm/wasm/regprune_bg.wasm -o npm/wasm/regprune_bg.wasm

## setup-browser: Debian's Chromium for the browser tests (playwright-core drives it)
setup-browser:
	@scripts/apt-install.sh chromium chromium "the browser tests drive it"

## setup-registry: Debian's CNCF distribution registry for the end-to-end tests
setup-registry:
	@scripts/apt-install.sh docker-registry docker-registry "the end-to-end tests start their own registries on 127.0.0.1"

## action: the GitHub Action's bundle (action/dist: one ES module with undici, and the .wasm), which
## action.yml runs on node24 with nothing installed; release tags carry it (release.yml)
ACTION_SOURCES := $(wildcard npm/*.js) npm/package.json npm/wasm/regprune_bg.wasm
action/dist/index.mjs: $(ACTION_SOURCES) | setup-wasm
	@mkdir -p action/dist/wasm
	npm/node_modules/.bin/esbuild npm/action.js --bundle --platform=node --format=esm --target=node20 --outfile=action/dist/index.mjs --legal-comments=eof --log-level=warning "--banner:js=import { createRequire as __regpruneRequire } from 'node:module'; const require = __regpruneRequire(import.meta.url);"
	cp npm/wasm/regprune_bg.wasm action/dist/wasm/regprune_bg.wasm

action: npm action/dist/index.mjs

## npm: build the WebAssembly core and the JavaScript package in npm/ (reports the .wasm size)
npm: setup-wasm npm/wasm/regprune_bg.wasm
	@echo "npm/wasm/regprune_bg.wasm: $$(stat -c %s npm/wasm/regprune_bg.wasm) bytes ($$(gzip -9c npm/wasm/regprune_bg.wasm | wc -c) gzipped)"

VENV := .venv
PY := $(VENV)/bin/python

## setup-python: a virtualenv in .venv with maturin, pytest, mypy and ruff (pinned)
setup-python: $(VENV)/.installed

$(VENV)/.installed: python/requirements-dev.txt
	python3 -m venv $(VENV)
	@$(call logged,$(PY) -m pip install --disable-pip-version-check -r python/requirements-dev.txt)
	touch $@

PY_SOURCES := $(WASM_SOURCES:bindings-wasm%=) $(shell find bindings-python/src -name '*.rs') bindings-python/Cargo.toml python/pyproject.toml python/README.md $(wildcard python/regprune/*.py python/regprune/*.pyi)

# The release artifacts, each built once (`make dist`) and used by every suite: the Python
# tests run the wheel a package index would get, the npm tests install the tarball, the
# Action's tests run its bundle.
#  - the wheel: abi3 (one wheel for CPython >= 3.10), manylinux2014 (glibc 2.17), linked with
#    zig (the `ziglang` wheel from PyPI) so that the glibc of the build machine does not leak in;
#  - the sdist: what `pip install regprune` builds from where no wheel fits (needs Rust);
#  - the npm tarball: `npm pack` of npm/ (the WebAssembly core, no Rust needed to install).
VERSION := $(shell awk -F'"' '/^version = /{print $$2; exit}' Cargo.toml)
dist/.wheel: $(PY_SOURCES) $(VENV)/.installed
	@mkdir -p dist
	rm -f dist/regprune-*.whl
	@$(call logged,cd python && PATH=$(CURDIR)/$(VENV)/bin:$$PATH CARGO_TARGET_DIR=$(CURDIR)/target/wheel $(CURDIR)/$(VENV)/bin/maturin build --release --zig --compatibility manylinux2014 --out ../dist)
	@touch $@

dist/regprune-$(VERSION).tar.gz: $(PY_SOURCES) $(VENV)/.installed
	@mkdir -p dist
	@$(call logged,cd python && $(CURDIR)/$(VENV)/bin/maturin sdist --out ../dist)

dist/regprune-$(VERSION).tgz: npm/wasm/regprune_bg.wasm $(wildcard npm/*.js npm/*.d.ts) npm/package.json npm/README.md
	@mkdir -p dist
	cd npm && npm pack --silent --pack-destination ../dist >/dev/null

## dist: the release artifacts in dist/: the abi3 manylinux wheel, the sdist, the npm tarball,
## and the GitHub Action's bundle (action/dist)
dist: dist/.wheel dist/regprune-$(VERSION).tar.gz npm dist/regprune-$(VERSION).tgz action
	@ls -l dist/*.whl dist/*.tar.gz dist/*.tgz | awk '{print $$5, $$9}'

# The package in .venv is the wheel from dist/ (not a separate build); its native module is
# also put next to the sources in python/regprune, as an editable install would (not its
# stub: that is a source of the wheel, and a fresh copy would make the wheel stale again).
$(VENV)/.native: dist/.wheel
	$(PY) -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps dist/regprune-*.whl
	$(PY) -c "import zipfile, glob; z = zipfile.ZipFile(glob.glob('dist/regprune-*.whl')[0]); [open('python/' + n, 'wb').write(z.read(n)) for n in z.namelist() if n.startswith('regprune/_native') and not n.endswith('.pyi')]"
	touch $@

## python: the wheel (dist/), installed into .venv
python: setup-python $(VENV)/.native

## demo: the main job: a local registry with the ACR guide's images, a purge previewed with
## its reclaimable bytes, executed, garbage-collected, and the freed bytes checked
demo: python setup-registry
	$(PY) scripts/demo.py

## demo-web: the delete-preview widget's demo page, served on 127.0.0.1:8080
demo-web: npm
	node npm/demo/serve.js

## demo-core: plan the ACR guide's deletions against the bundled example snapshot (no registry)
demo-core: setup
	$(CARGO) run --quiet -p regprune-core --example demo -- examples/registry.json

## lint: every static check (Rust, TypeScript types, Python, the workflows)
lint: lint-rust lint-npm lint-python lint-workflows

## lint-workflows: actionlint on the release workflow and the example workflows, whose
## `uses: regprune/regprune@v1` is checked against this repository's action.yml
lint-workflows: setup-python action
	@rm -rf artifacts/lint && mkdir -p artifacts/lint
	@for f in examples/github/*.yml; do sed 's#regprune/regprune@v1#./#' "$$f" > "artifacts/lint/$$(basename "$$f")"; done
	$(VENV)/bin/actionlint .github/workflows/*.yml artifacts/lint/*.yml

## lint-rust: formatting and clippy (pedantic, warnings are errors)
lint-rust: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --quiet --workspace --all-targets -- -D warnings
	python3 scripts/check-layers.py

## lint-npm: TypeScript strict check of the package's types
lint-npm: npm
	cd npm && npx tsc --noEmit -p tsconfig.json

## lint-python: ruff, mypy --strict on the package, stubtest of the native module
lint-python: python
	$(VENV)/bin/ruff check python bench
	$(VENV)/bin/ruff format --check python bench
	cd python && $(CURDIR)/$(VENV)/bin/mypy
	cd python && $(CURDIR)/$(VENV)/bin/python -m mypy.stubtest regprune._native

## test: lint and every test. The benchmarks are not part of it (`make bench-smoke` runs
## their code on small inputs, `make bench` the figures of record).
# Three lanes side by side, each starting as soon as what it runs is built (one make, so each
# artifact is built once): the static checks followed by the Rust tests, the npm suite, the
# Python suite (whose tests mostly wait on registries and child processes: four workers keep
# both cores busy).
test:
	@$(MAKE) --no-print-directory -j3 --output-sync=target checks test-npm test-python

checks: lint test-build-rust
	@$(MAKE) --no-print-directory test-rust

# Everything the checks and suites run (`make -j2 artifacts` builds it all side by side: one
# build's single-threaded link-time optimisation overlaps another's compiling).
artifacts: npm action dist python test-build-rust

# The saved fuzz inputs are replayed by core/tests/fuzz_regressions.rs (the fuzz crate's
# bodies, included), so the fuzz workspace is not built here.
# The micro-benchmarks' crate (Criterion) is left out: `make bench` builds it.
RUST_TESTED := --workspace --exclude regprune-micro
test-build-rust: setup
	@$(call logged,$(CARGO) test $(RUST_TESTED) --no-run)

## setup-bench: skopeo, the one-process-per-deletion baseline of the execution benchmark
setup-bench:
	@scripts/apt-install.sh skopeo skopeo "the execution benchmark's baseline"

## bench: every benchmark, side by side, into docs/BENCHMARKS.md (takes minutes; needs ~8 GB)
bench: python npm setup-browser setup-registry setup-bench
	python3 bench/run.py

## bench-smoke: the same benchmark code on small inputs (about 30 s)
bench-smoke: python npm setup-browser setup-registry setup-bench
	python3 bench/run.py --smoke

test-rust: test-build-rust
	$(CARGO) test --quiet $(RUST_TESTED)

## fuzz: every fuzz target for FUZZ_SECONDS (default 600) each, with cargo fuzz (nightly)
fuzz: setup
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
	python3 fuzz/campaign.py

## reliability: the full campaign: fuzzing, fault injection at 10% and 30% with several
## seeds from both adapters, then the tables for docs/RELIABILITY.md
reliability: fuzz test-rust python npm setup-registry
	rm -f artifacts/reliability/faults.jsonl
	cd python && REGPRUNE_FAULT_CAMPAIGN=1 $(CURDIR)/$(VENV)/bin/python -m pytest -q tests/test_faults.py tests/test_races.py tests/test_secrets.py
	python3 tests/reliability_report.py --write

test-npm: npm action dist/regprune-$(VERSION).tgz setup-browser setup-registry
	cd npm && node --test test/

test-python: python dist/regprune-$(VERSION).tar.gz setup-registry
	cd python && $(CURDIR)/$(VENV)/bin/python -m pytest -q -n 4
