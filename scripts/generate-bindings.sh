#!/usr/bin/env bash
# Builds the fieldsync-ffi library for this machine and generates its Kotlin, Swift and Python
# bindings with the uniffi-bindgen built from the same UniFFI version.
#
#   scripts/generate-bindings.sh [OUT_DIR]      (default: <target dir>/bindings)
#
# PROFILE=release builds optimised. The Python folder also gets a copy of the library, so that
# `python3 -c 'import fieldsync_ffi'` works from inside it. Nothing generated is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${PROFILE:-debug}"
target_dir="${CARGO_TARGET_DIR:-target}"
out="${1:-$target_dir/bindings}"

flags=(--locked -p fieldsync-ffi --features cli)
if [ "$profile" = release ]; then
    flags+=(--release)
fi
cargo build "${flags[@]}"

case "$(uname -s)" in
    Darwin) lib="$target_dir/$profile/libfieldsync_ffi.dylib" ;;
    *) lib="$target_dir/$profile/libfieldsync_ffi.so" ;;
esac
bindgen="$target_dir/$profile/uniffi-bindgen"

rm -rf "$out"
for language in kotlin swift python; do
    "$bindgen" generate --library "$lib" --language "$language" --no-format \
        --out-dir "$out/$language"
done
cp "$lib" "$out/python/"
echo "bindings in $out: $(cd "$out" && find . -type f | sort | tr '\n' ' ')"
