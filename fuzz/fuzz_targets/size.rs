//! The size parser: never panics, and what it accepts is a multiple of the
//! unit its suffix names and fits in an off_t.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mount_md::size::parse_size;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(v) = parse_size(s) {
        assert!(v <= i64::MAX as u64);
        if !s.trim_end().ends_with(|c: char| c.is_ascii_alphabetic()) {
            assert_eq!(v % 512, 0, "{s:?}");
        }
    }
});
