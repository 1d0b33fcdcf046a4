//! `uniffi-bindgen`: generates the Kotlin, Swift and Python bindings of `libnoaber_ffi` with
//! exactly the uniffi version the library was built with. See `bindings/README.md`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
