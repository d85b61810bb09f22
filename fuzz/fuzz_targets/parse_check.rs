//! Fuzzes parse + check + format over arbitrary bytes: none may panic, every span stays in bounds.
//! Run with `scripts/fuzz.sh` (or `cargo fuzz run parse_check` on a nightly toolchain).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let a = pipe_core::analyze(&pipe_core::NoFiles, "main.pipe", &text);
    for d in &a.diagnostics {
        let f = a.sources().get(d.primary.span.file);
        assert!(d.primary.span.end as usize <= f.text.len(), "{} span past the end", d.code);
        assert!(f.text.is_char_boundary(d.primary.span.start as usize), "{} span off a char boundary", d.code);
        assert!(!d.help.is_empty(), "{} has no help", d.code);
    }
    if let Ok(once) = pipe_core::format::format(&text) {
        assert_eq!(pipe_core::format::format(&once).ok().as_deref(), Some(once.as_str()), "format is not idempotent");
    }
});
