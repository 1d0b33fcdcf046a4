//! Untrusted photo bytes into the metadata stripper: any outcome but a panic, and whenever
//! cleaning succeeds, the output inspects as clean and cleaning it again changes nothing.
//! Stable mirror: `photo::arbitrary_bytes_never_panic` and `mutated_camera_files_never_panic`
//! in core/tests/it/photo.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use noaber_core::photo;

fuzz_target!(|data: &[u8]| {
    let _ = photo::inspect(data);
    if let Ok(cleaned) = photo::clean(data) {
        let info = photo::inspect(&cleaned.bytes).expect("clean output parses");
        assert!(
            info.is_clean(),
            "clean output carries {:?}",
            info.metadata_found
        );
        assert_eq!(info.media_type, cleaned.media_type);
        let again = photo::clean(&cleaned.bytes).expect("clean output cleans");
        assert_eq!(again, cleaned, "cleaning is not idempotent");
    }
});
