//! Glob patterns over a dataset, as in Pachyderm.
//!
//! Takes a pattern such as `/train/*` or `/(*)-(*).csv`; gives its capture count or a problem.
//! `/` is the whole dataset as one datum; `/*` each top-level entry; `/*/*` each entry one level
//! down; `**` any depth (as a whole segment only); `?`, `[abc]` and `[!abc]` as in shells;
//! `(…)` captures part of a segment for `join` and `group`. Raises E3006 (malformed) and E3007
//! (well formed but can never match).

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

fn segment_captures(pattern: &str, segment: &str) -> Result<usize, GlobProblem> {
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
