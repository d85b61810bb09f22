//! Fuzzes parse + check + format + the language server's features over arbitrary bytes (invalid
//! UTF-8 included): none may panic, abort or hang; every span stays in bounds on char boundaries,
//! every diagnostic has help, human rendering works, and formatting is idempotent.
//! Run with `scripts/fuzz.sh` (or `cargo fuzz run parse_check` on a nightly toolchain).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pipe_core::source::FileId;
use pipe_lsp::{complete, diagnostics, hover, navigate, symbols};

fuzz_target!(|data: &[u8]| {
    let a = pipe_core::analyze_bytes(&pipe_core::NoFiles, "main.pipe", data);
    for d in &a.diagnostics {
        for l in std::iter::once(&d.primary).chain(&d.secondary) {
            let f = a.sources().get(l.span.file);
            let (start, end) = (l.span.start as usize, l.span.end as usize);
            assert!(start <= end && end <= f.text.len(), "{} span past the end", d.code);
            assert!(f.text.is_char_boundary(start) && f.text.is_char_boundary(end), "{} span off a char boundary", d.code);
        }
        assert!(!d.help.is_empty(), "{} has no help", d.code);
    }
    let _ = pipe_core::diag::render::graphical_all(&a.diagnostics, a.sources(), 80);

    // What an editor asks at a cursor the input picks (its first byte scales to an offset).
    let root = FileId(0);
    let text = &a.sources().get(root).text;
    let mut offset = data.first().map_or(0, |&b| usize::from(b) * text.len() / 255);
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let _ = diagnostics::by_file(&a);
    let _ = symbols::symbols(&a);
    let _ = complete::complete(&a, offset);
    let _ = hover::hover(&a, root, offset);
    let _ = navigate::definition(&a, root, offset);
    let _ = navigate::references(&a, root, offset, true);
    let _ = navigate::rename(&a, root, offset, "renamed");

    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(once) = pipe_core::format::format(text)
    {
        assert_eq!(pipe_core::format::format(&once).ok().as_deref(), Some(once.as_str()), "format is not idempotent");
    }
});
