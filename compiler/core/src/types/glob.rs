//! Glob patterns over a dataset, as in Pachyderm.
//!
//! Takes a pattern such as `/train/*` or `/(*)-(*).csv`; gives its capture count or a problem.
//! `/` is the whole dataset as one datum; `/*` each top-level entry; `/*/*` each entry one level
//! down; `**` any depth (as a whole segment only); `?`, `[abc]` and `[!abc]` as in shells;
//! `(…)` captures part of a segment for `join` and `group`. Raises E3006 (malformed, or the
//! alternation, braces and extglobs of other dialects, refused rather than matching nothing) and
//! E3007 (well formed but can never match).

use crate::diag::Code;

/// What is wrong with a pattern: code, message, help.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobProblem {
    pub code: Code,
    pub message: String,
    pub help: String,
}

fn bad(code: Code, message: impl Into<String>, help: impl Into<String>) -> GlobProblem {
    GlobProblem { code, message: message.into(), help: help.into() }
}

/// Validates a pattern; gives the number of capture groups.
pub fn validate(pattern: &str) -> Result<usize, GlobProblem> {
    let Some(body) = pattern.strip_prefix('/') else {
        return Err(bad(
            Code::E3006,
            format!("glob pattern `{pattern}` does not start with `/`"),
            format!("Patterns are rooted at the dataset: write `/{pattern}`."),
        ));
    };
    if body.is_empty() {
        return Ok(0);
    }
    let mut captures = 0;
    for segment in body.split('/') {
        match segment {
            "" => {
                return Err(bad(
                    Code::E3007,
                    format!("glob pattern `{pattern}` has an empty path segment"),
                    "Remove the doubled or trailing `/`; no path has an empty segment.",
                ));
            }
            "." | ".." => {
                return Err(bad(
                    Code::E3007,
                    format!("glob pattern `{pattern}` contains `{segment}`"),
                    "Datasets have no `.` or `..` entries; name the folder itself.",
                ));
            }
            "**" => continue,
            s if s.contains("**") => {
                return Err(bad(
                    Code::E3006,
                    format!("`**` inside the segment `{s}`"),
                    "Use `**` as a whole segment (`/**/x.csv`), or `*` within a segment.",
                ));
            }
            s => captures += segment_captures(pattern, s)?,
        }
    }
    Ok(captures)
}

/// Syntax of other glob dialects (Pachyderm's, bash's extglob) that pipe does not read: refused
/// with what to write instead, rather than matching nothing without a word.
fn foreign_syntax(pattern: &str, segment: &str) -> Result<(), GlobProblem> {
    let union = "Write one glob per alternative and combine them with `union(…)`";
    if let Some(ext) = ["!(", "@(", "+("].iter().find(|e| segment.contains(**e)) {
        return Err(bad(
            Code::E3006,
            format!("`{ext}…)` in glob pattern `{pattern}` is an extglob, which pipe's globs do not have"),
            format!("{union}, or use a character class (`[!abc]`)."),
        ));
    }
    if segment.contains('|') {
        return Err(bad(
            Code::E3006,
            format!("`|` in glob pattern `{pattern}`: pipe's globs have no alternation"),
            format!("{union}; for a literal `|` in a name, write `[|]`."),
        ));
    }
    if segment.contains(['{', '}']) {
        return Err(bad(
            Code::E3006,
            format!("braces in glob pattern `{pattern}`: pipe's globs do not expand `{{a,b}}`"),
            format!("{union}; for a literal `{{` or `}}` in a name, write `[{{]` or `[}}]`."),
        ));
    }
    Ok(())
}

fn segment_captures(pattern: &str, segment: &str) -> Result<usize, GlobProblem> {
    let outside_classes: String = {
        // Characters inside `[…]` are literal: `[|]` is how a name with `|` is matched.
        let mut out = String::new();
        let mut in_class = false;
        for c in segment.chars() {
            match c {
                '[' if !in_class => in_class = true,
                ']' if in_class => in_class = false,
                c if !in_class => out.push(c),
                _ => {}
            }
        }
        out
    };
    foreign_syntax(pattern, &outside_classes)?;
    let mut captures = 0;
    let mut open = false;
    let mut chars = segment.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '(' if open => {
                return Err(bad(
                    Code::E3006,
                    format!("nested `(` in glob pattern `{pattern}`"),
                    "Capture groups cannot nest; close the first `(` before opening another.",
                ));
            }
            '(' => open = true,
            ')' if !open => {
                return Err(bad(
                    Code::E3006,
                    format!("`)` without `(` in glob pattern `{pattern}`"),
                    "Remove the `)` or add the `(` that opens the capture group.",
                ));
            }
            ')' => {
                open = false;
                captures += 1;
            }
            '[' => {
                let mut class = String::new();
                loop {
                    match chars.next() {
                        Some(']') if !class.is_empty() && class != "!" => break,
                        Some(c) => class.push(c),
                        None => {
                            return Err(bad(
                                Code::E3006,
                                format!("unclosed `[` in glob pattern `{pattern}`"),
                                "Close the character class with `]`, e.g. `[0-9]`.",
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if open {
        return Err(bad(
            Code::E3006,
            format!("unclosed `(` in glob pattern `{pattern}`"),
            "Close the capture group with `)`, e.g. `/(*).csv`.",
        ));
    }
    Ok(captures)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pachyderm's and bash's glob syntax that pipe does not have is refused, never silently
    /// matching nothing; the same characters inside a class are literal.
    #[test]
    fn other_dialects_are_refused_with_what_to_write() {
        for (pattern, says) in [
            ("/(a|b)/x", "no alternation"),
            ("/{abc,def}ghi", "do not expand"),
            ("/!(*.tmp)", "extglob"),
            ("/@(a)", "extglob"),
            ("/+(a)", "extglob"),
        ] {
            let err = validate(pattern).expect_err(pattern);
            assert_eq!(err.code, Code::E3006, "{pattern}");
            assert!(err.message.contains(says) && err.help.contains("union"), "{pattern}: {err:?}");
        }
        assert_eq!(validate("/a[|]b/[{]x[}]"), Ok(0), "literal in a class");
        assert_eq!(validate("/(*)-(*)"), Ok(2));
        assert_eq!(validate("/**"), Ok(0));
    }
}
