#!/usr/bin/env bash
# Python end-to-end test of the generated bindings: builds the server and the bindings, then
# runs test_e2e.py against a real server. Exits non-zero if anything fails, including a build.
set -euo pipefail
cd "$(dirname "$0")/../../.."

target_dir="${CARGO_TARGET_DIR:-target}"
bindings="$target_dir/bindings-e2e"
cargo build --locked -p fieldsync-server --bin fieldsync-server
scripts/generate-bindings.sh "$bindings"

FIELDSYNC_BINDINGS="$bindings/python" \
FIELDSYNC_SERVER_BIN="$target_dir/debug/fieldsync-server" \
    python3 client-ffi/tests/python/test_e2e.py
