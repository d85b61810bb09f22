//! Tokens as nom parsers over `&str`, and the parse error type.
//!
//! Takes the remaining input (always a suffix of the file's text, so an offset is
//! `text.len() - rest.len()`); gives identifiers, punctuation, literals. Whitespace and `#` comments
//! are skipped by [`ws`]; the comments themselves are collected once, up front, by
//! [`scan_comments`] for the formatter and for doc comments. Raises E1001, E1002, E1004, E1006,
//! E1007, E1008 (the last two are reported without stopping the string); E1001 too for a file's
//! first byte that is not UTF-8 ([`not_utf8`]).

use super::ast::{Comment, Ident, StrLit, StrPart};
use crate::diag::{Code, Diagnostic};
use crate::source::{FileId, Span};
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, satisfy};
use nom::combinator::{opt, recognize};
use nom::error::{ErrorKind, ParseError};
use nom::sequence::pair;
use nom::{IResult, Parser};
use std::cell::RefCell;

/// E1001 for byte `at` of `bytes`, the first that is not UTF-8, in `file` read lossily (where the
/// bad sequence became U+FFFD, 3 bytes, at the same offset).
pub(crate) fn not_utf8(file: FileId, bytes: &[u8], at: usize) -> Diagnostic {
    let value = bytes.get(at).copied().unwrap_or_default();
    Diagnostic::new(
        Code::E1001,
        Span::new(file, at, at + '\u{fffd}'.len_utf8()),
        format!("byte {at} (0x{value:02X}) is not UTF-8: pipeline files are UTF-8 text"),
    )
    .label("not UTF-8")
    .help("Save the file as UTF-8 (most editors have an encoding setting; `iconv -f LATIN1 -t UTF-8` converts one).")
}

/// A parse failure: where, which code, and what was expected there.
#[derive(Debug, Clone)]
pub(super) struct PErr<'a> {
    /// Where the diagnostic points.
    pub at: &'a str,
    /// Where parsing stopped, when that is later than `at` (an unclosed `[` is reported at the
    /// `[` but found at the end); recovery resumes from here, never from before it.
    pub stop: Option<&'a str>,
    pub code: Code,
    pub expected: String,
    /// A full message replacing "expected …, found …".
    pub message: Option<String>,
    pub help: Option<String>,
}

impl<'a> ParseError<&'a str> for PErr<'a> {
    fn from_error_kind(input: &'a str, _kind: ErrorKind) -> Self {
        PErr { at: input, stop: None, code: Code::E1004, expected: String::new(), message: None, help: None }
    }

    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }

    /// Of two alternatives, the one that got further explains the problem best.
    fn or(self, other: Self) -> Self {
        if other.at.len() < self.at.len() || self.expected.is_empty() { other } else { self }
    }
}

pub(super) type PResult<'a, T> = IResult<&'a str, T, PErr<'a>>;

impl<'a> PErr<'a> {
    /// Where recovery may resume: the later of where parsing stopped and `rest`.
    pub(super) fn resume(&self, rest: &'a str) -> &'a str {
        let stop = self.stop.unwrap_or(self.at);
        if stop.len() < rest.len() { stop } else { rest }
    }
}

/// An error that lets alternatives be tried.
pub(super) fn soft<'a, T>(at: &'a str, expected: impl Into<String>) -> PResult<'a, T> {
    Err(nom::Err::Error(PErr {
        at,
        stop: None,
        code: Code::E1004,
        expected: expected.into(),
        message: None,
        help: None,
    }))
}

/// An error that stops the current item.
pub(super) fn hard<'a, T>(at: &'a str, expected: impl Into<String>) -> PResult<'a, T> {
    Err(nom::Err::Failure(PErr {
        at,
        stop: None,
        code: Code::E1004,
        expected: expected.into(),
        message: None,
        help: None,
    }))
}

/// Turns soft errors into hard ones once the parser has committed to an item.
pub(super) fn commit<'a, T>(r: PResult<'a, T>) -> PResult<'a, T> {
    r.map_err(|e| match e {
        nom::Err::Error(e) => nom::Err::Failure(e),
        other => other,
    })
}

/// Replaces a soft error with "expected `what`" at `at`; keeps hard errors, which say more.
pub(super) fn or_expected<'a, T>(r: PResult<'a, T>, at: &'a str, what: &str) -> PResult<'a, T> {
    match r {
        Err(nom::Err::Error(_)) => hard(at, what),
        other => other,
    }
}

/// The parsing context: the whole text (for offsets) and the diagnostics raised so far.
#[derive(Debug)]
pub(super) struct Cx<'a> {
    pub src: &'a str,
    pub file: FileId,
    pub diags: RefCell<Vec<Diagnostic>>,
    /// Every comment of the text, by position.
    pub comments: Vec<Comment>,
    /// How many values the parser is inside now (lists, records, call arguments).
    pub depth: std::cell::Cell<u32>,
}

impl<'a> Cx<'a> {
    pub(super) fn off(&self, rest: &str) -> usize {
        self.src.len() - rest.len()
    }

    /// The span from the start of `from` to the start of `to`.
    pub(super) fn span(&self, from: &str, to: &str) -> Span {
        Span::new(self.file, self.off(from), self.off(to))
    }

    pub(super) fn span_len(&self, at: &str, len: usize) -> Span {
        let start = self.off(at);
        Span::new(self.file, start, (start + len).min(self.src.len()))
    }

    pub(super) fn report(&self, d: Diagnostic) {
        self.diags.borrow_mut().push(d);
    }

    /// Whether `rest` starts a line.
    pub(super) fn at_line_start(&self, rest: &str) -> bool {
        let off = self.off(rest);
        off == 0 || self.src.as_bytes()[off - 1] == b'\n'
    }

    /// The diagnostic for a parse error.
    pub(super) fn diagnostic(&self, e: &PErr<'a>) -> Diagnostic {
        let (found, len) = describe(e.at);
        let bad_char = e.at.chars().next().filter(|c| !is_token_start(*c));
        let (code, message) = match (&e.message, bad_char) {
            (Some(m), _) => (e.code, m.clone()),
            (None, Some(c)) if e.code == Code::E1004 => {
                (Code::E1001, format!("unexpected character `{}`", c.escape_debug()))
            }
            (None, _) => (e.code, format!("expected {}, found {found}", e.expected)),
        };
        let help = match code {
            Code::E1001 => {
                "Remove this character; names use letters, digits and `_`, and `$` appears only in strings.".into()
            }
            _ => e.help.clone().unwrap_or_else(|| format!("Write {} here.", e.expected)),
        };
        let label = if e.expected.is_empty() { String::new() } else { format!("expected {}", e.expected) };
        Diagnostic::new(code, self.span_len(e.at, len), message).label(label).help(help)
    }
}

fn is_token_start(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_\"{}[](),.:=@-#;".contains(c)
}

/// Words for the token at `at`, and its length in bytes.
pub(super) fn describe(at: &str) -> (String, usize) {
    let Some(c) = at.chars().next() else {
        return ("end of file".into(), 0);
    };
    if c == '\n' || c == '\r' {
        return ("end of line".into(), 0);
    }
    if c.is_alphanumeric() || c == '_' {
        let word: String = at.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let len = word.len();
        return (format!("`{word}`"), len);
    }
    if c == '"' {
        return ("a string".into(), 1);
    }
    (format!("`{}`", c.escape_debug()), c.len_utf8())
}

/// Skips whitespace and comments.
pub(super) fn ws(mut i: &str) -> &str {
    loop {
        let trimmed = i.trim_start();
        if let Some(rest) = trimmed.strip_prefix('#') {
            i = rest.find('\n').map_or("", |n| &rest[n..]);
        } else {
            return trimmed;
        }
    }
}

/// Skips spaces and tabs only: a value must start on the line of its `=`.
pub(super) fn inline_ws(i: &str) -> &str {
    i.trim_start_matches([' ', '\t'])
}

pub(super) fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

pub(super) fn ident<'a>(cx: &Cx<'a>, i: &'a str, what: &str) -> PResult<'a, Ident> {
    match recognize::<_, PErr, _>(pair(satisfy(is_ident_start), take_while(is_ident_char))).parse(i) {
        Ok((rest, name)) => Ok((rest, Ident { name: name.to_string(), span: cx.span(i, rest) })),
        Err(_) => soft(i, what),
    }
}

/// A whole word: `kw` not followed by an identifier character.
pub(super) fn keyword<'a>(i: &'a str, kw: &'static str) -> PResult<'a, &'a str> {
    let (rest, word) = tag(kw).parse(i)?;
    match rest.chars().next() {
        Some(c) if is_ident_char(c) => soft(i, format!("`{kw}`")),
        _ => Ok((rest, word)),
    }
}

/// One punctuation character, after optional whitespace.
pub(super) fn punct<'a>(i: &'a str, c: char) -> PResult<'a, char> {
    let i = ws(i);
    match char::<&str, PErr>(c).parse(i) {
        Ok(ok) => Ok(ok),
        Err(_) => soft(i, format!("`{c}`")),
    }
}

/// A number, or a number with a unit (`90s`, `1h30m`, `64Gi`).
pub(super) enum Number {
    Int(i64),
    Float(f64),
    Unit(String),
}

pub(super) fn number<'a>(i: &'a str) -> PResult<'a, Number> {
    let digits = |i| take_while1(|c: char| c.is_ascii_digit()).parse(i);
    let (rest, text) = recognize((opt(char('-')), digits, opt(pair(char('.'), digits)))).parse(i)?;
    // `1e-4`, `2.5E3`: a float, as ML code writes rates (`1e3Gi` stays a unit, for Kubernetes).
    if let Some(after) = exponent(rest)
        && !after.starts_with(|c: char| is_ident_start(c) || c == '.')
    {
        let written = &i[..i.len() - after.len()];
        return match written.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok((after, Number::Float(f))),
            _ => malformed(i, "a number that fits in 64 bits"),
        };
    }
    if rest.starts_with(|c: char| is_ident_start(c)) {
        let (rest, _) = take_while::<_, &str, PErr>(|c: char| c.is_ascii_alphanumeric() || c == '.').parse(rest)?;
        let unit = &i[..i.len() - rest.len()];
        return Ok((rest, Number::Unit(unit.to_string())));
    }
    if rest.starts_with('.') {
        return malformed(i, "a digit after `.`");
    }
    if text.contains('.') {
        return match text.parse::<f64>() {
            Ok(f) => Ok((rest, Number::Float(f))),
            Err(_) => malformed(i, "a number"),
        };
    }
    match text.parse::<i64>() {
        Ok(n) => Ok((rest, Number::Int(n))),
        Err(_) => Err(nom::Err::Failure(PErr {
            at: i,
            stop: None,
            code: Code::E1006,
            expected: "a number".into(),
            message: Some(format!("integer `{text}` does not fit in 64 bits")),
            help: Some("Write a number between -9223372036854775808 and 9223372036854775807.".into()),
        })),
    }
}

/// What follows an exponent (`e-4`, `E+3`, `e10`) at the start of `rest`, if one is there.
fn exponent(rest: &str) -> Option<&str> {
    let after_e = rest.strip_prefix(['e', 'E'])?;
    let after_sign = after_e.strip_prefix(['+', '-']).unwrap_or(after_e);
    let digits = after_sign.len() - after_sign.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    (digits > 0).then(|| &after_sign[digits..])
}

fn malformed<'a, T>(i: &'a str, expected: &str) -> PResult<'a, T> {
    let end = i.find(|c: char| c.is_whitespace()).unwrap_or(i.len());
    Err(nom::Err::Failure(PErr {
        at: i,
        stop: None,
        code: Code::E1006,
        expected: expected.into(),
        message: Some(format!("malformed number `{}`", &i[..end])),
        help: Some("Write a number like `3`, `0.5`, or a number with a unit like `90s` or `2Gi`.".into()),
    }))
}

/// A `"…"` string with `\` escapes and `${param}` interpolations.
pub(super) fn string<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, StrLit> {
    let Some(body) = i.strip_prefix('"') else {
        return soft(i, "a string");
    };
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = body.char_indices();
    while let Some((k, c)) = chars.next() {
        let here = &body[k..];
        match c {
            '"' => {
                if !text.is_empty() || parts.is_empty() {
                    parts.push(StrPart::Text(text));
                }
                return Ok((&body[k + 1..], StrLit { parts }));
            }
            '\n' => break,
            '\\' => match chars.next() {
                Some((_, e @ ('\\' | '"' | '$'))) => text.push(e),
                Some((_, 'n')) => text.push('\n'),
                Some((_, 't')) => text.push('\t'),
                Some((_, 'r')) => text.push('\r'),
                Some((_, '\n')) | None => break,
                Some((_, other)) => cx.report(
                    Diagnostic::new(
                        Code::E1007,
                        cx.span_len(here, 1 + other.len_utf8()),
                        format!("invalid escape `\\{}`", other.escape_debug()),
                    )
                    .label("unknown escape")
                    .help("Use one of `\\\\`, `\\\"`, `\\$`, `\\n`, `\\t`, `\\r`."),
                ),
            },
            '$' if here.starts_with("${") => {
                let close = here.find(['}', '"', '\n']).filter(|&n| here.as_bytes()[n] == b'}');
                let inner = close.map(|n| &here[2..n]);
                match inner.map(str::trim) {
                    Some(name)
                        if !name.is_empty()
                            && name.chars().next().is_some_and(is_ident_start)
                            && name.chars().all(is_ident_char) =>
                    {
                        let lead = inner.map_or(0, |s| s.len() - s.trim_start().len());
                        let start = cx.off(here) + 2 + lead;
                        if !text.is_empty() {
                            parts.push(StrPart::Text(std::mem::take(&mut text)));
                        }
                        parts.push(StrPart::Interp(Ident {
                            name: name.to_string(),
                            span: Span::new(cx.file, start, start + name.len()),
                        }));
                    }
                    _ => {
                        let len = close.map_or(2, |n| n + 1);
                        cx.report(
                            Diagnostic::new(Code::E1008, cx.span_len(here, len), "malformed interpolation")
                                .label("expected `${name}`")
                                .help("Write `${name}` with the name of a param, or `\\$` for a literal dollar sign."),
                        );
                    }
                }
                let skip = close.unwrap_or(1);
                for _ in 0..here[1..=skip].chars().count() {
                    chars.next();
                }
            }
            c => text.push(c),
        }
    }
    Err(nom::Err::Failure(PErr {
        at: i,
        stop: None,
        code: Code::E1002,
        expected: "a closing `\"`".into(),
        message: Some("unterminated string".into()),
        help: Some("Close the string with `\"` on the same line; write `\\n` for a line break.".into()),
    }))
}

/// Every `#` comment of a text, outside strings: (start, end, text after `#`).
pub(super) fn scan_comments(src: &str) -> Vec<(usize, usize, &str)> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut k = 0;
    let mut in_string = false;
    while k < bytes.len() {
        match (bytes[k], in_string) {
            (b'"', _) => in_string = !in_string,
            (b'\\', true) => k += 1,
            (b'\n', true) => in_string = false,
            (b'#', false) => {
                let end = src[k..].find('\n').map_or(src.len(), |n| k + n);
                let end = if src[..end].ends_with('\r') { end - 1 } else { end };
                out.push((k, end, &src[k + 1..end]));
                k = end;
                continue;
            }
            _ => {}
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Option<(&str, Number)> {
        number(text).ok()
    }

    /// ML code writes rates as `1e-4`; Kubernetes quantities keep their suffixes (`1e3Gi`).
    #[test]
    fn an_exponent_makes_a_float_and_a_suffix_after_it_a_unit() {
        for (text, value) in [("1e-4", 1e-4), ("2.5E+3", 2500.0), ("1e3", 1000.0), ("-3e2", -300.0)] {
            assert!(matches!(read(text), Some(("", Number::Float(f))) if f == value), "{text}");
        }
        assert!(matches!(read("1e3Gi"), Some(("", Number::Unit(u))) if u == "1e3Gi"));
        assert!(matches!(read("1e"), Some(("", Number::Unit(u))) if u == "1e"), "no digits: a unit, as before");
        assert!(matches!(read("1e-4,"), Some((",", Number::Float(_)))));
        assert!(read("1e999").is_none(), "infinite is malformed");
    }
}
