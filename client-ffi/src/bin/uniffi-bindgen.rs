//! `uniffi-bindgen`, built from the same UniFFI version as the library, so that generated
//! bindings always match the scaffolding; `scripts/generate-bindings.sh` runs it.

fn main() {
    uniffi::uniffi_bindgen_main()
}
