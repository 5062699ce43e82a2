# One command surface: the README shows these targets and .ci/run calls `make test`.
# Every target installs what it needs and is quick when it is already there.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: setup demo lint test test-rust

## setup: the Rust toolchain pieces the checks need (idempotent)
setup:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

## demo: plan the ACR guide's deletions against the bundled example registry
demo: setup
	$(CARGO) run --quiet -p regprune-core --example demo -- examples/registry.json

## lint: formatting and clippy (pedantic, warnings are errors)
lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## test: lint, then every test
test: lint test-rust

test-rust: setup
	$(CARGO) test --workspace
