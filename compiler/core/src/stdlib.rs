//! The standard library: `.pipe` modules embedded in the compiler.
//!
//! Takes a module name from `use NAME`; gives its source. The files live in the repository's
//! `stdlib/` folder so they are read, formatted and checked like any user file.

/// (module name, source) of every standard module.
pub const MODULES: [(&str, &str); 1] = [("torchx", include_str!("../../../stdlib/torchx.pipe"))];

pub fn source(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The file name diagnostics show for a standard module.
pub fn file_name(name: &str) -> String {
    format!("<stdlib>/{name}.pipe")
}
