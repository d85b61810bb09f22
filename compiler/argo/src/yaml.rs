//! YAML text for Kubernetes: serde-saphyr, which quotes strings that YAML 1.1 readers (Kubernetes,
//! PyYAML) would take for booleans or numbers — `on`, `yes`, `no`, `off`, `1e3` — so a value
//! written as a string is read back as that string.
//!
//! Takes any serialisable object; gives one YAML document, deterministic (struct fields in
//! declaration order, maps sorted by the types that hold them); long strings on one line.

use serde::Serialize;

/// `value` as one YAML document ending in a newline.
pub fn to_yaml<T: Serialize>(value: &T) -> String {
    // The emitted types hold only strings, numbers, booleans, lists and string-keyed maps.
    // Long one-line strings (commands) stay on one line, as written; multi-line ones become `|`.
    let mut options = serde_saphyr::SerializerOptions::default();
    options.folded_wrap_chars = usize::MAX;
    let mut text = serde_saphyr::to_string_with_options(value, options).expect("manifests serialise to YAML");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn strings_a_yaml_1_1_reader_would_misread_are_quoted() {
        let risky = ["on", "off", "yes", "no", "y", "n", "true", "False", "null", "~", "1e3", "0x1F", "012", "1.5", ""];
        let map: BTreeMap<String, String> = risky.iter().map(|s| (format!("k{s}"), (*s).to_owned())).collect();
        let text = to_yaml(&map);
        for line in text.lines() {
            let (_, value) = line.split_once(": ").unwrap_or((line, ""));
            assert!(value.starts_with('"') || value.starts_with('\''), "unquoted risky value: {line}");
        }
        assert!(to_yaml(&BTreeMap::from([("k", "plain")])).contains("k: plain"));
    }
}
