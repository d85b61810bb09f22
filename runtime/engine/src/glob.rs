//! Pachyderm-style glob matching over a dataset's paths, with capture groups.
//!
//! Takes a pattern (`/train/*`, `/**/*.csv`, `/(*)-(*).png`) and a path; gives whether the path
//! matches and what each `(…)` captured. Patterns match path segments: `*` any run of characters
//! but `/`, `?` one character, `[abc]`/`[a-z]`/`[!abc]` a class, `**` as a whole segment any
//! number of segments. The compiler has already validated every pattern (E3006, E3007); a pattern
//! that is malformed anyway simply matches nothing.

/// One token of a segment pattern.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    Star,
    One,
    Class { negated: bool, items: Vec<(char, char)> },
    Open,
    Close,
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Glob {
    /// `None` is a `**` segment.
    segments: Vec<Option<Vec<Tok>>>,
}

impl Glob {
    /// Compiles `pattern` (leading `/` optional; `/` alone matches the root).
    pub fn new(pattern: &str) -> Glob {
        let body = pattern.trim_start_matches('/');
        let segments = if body.is_empty() {
            Vec::new()
        } else {
            body.split('/').map(|s| if s == "**" { None } else { Some(tokens(s)) }).collect()
        };
        Glob { segments }
    }

    /// Whether the pattern is `/`: the whole dataset.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The captures if `path` (`a/b/c`, no leading slash) matches.
    pub fn captures(&self, path: &str) -> Option<Vec<String>> {
        let parts: Vec<&str> = if path.is_empty() { Vec::new() } else { path.split('/').collect() };
        match_segments(&self.segments, &parts)
    }
}

fn tokens(segment: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut chars = segment.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            '(' => Tok::Open,
            ')' => Tok::Close,
            '[' => {
                let negated = chars.next_if(|&c| c == '!' || c == '^').is_some();
                let mut items = Vec::new();
                let mut first = true;
                while let Some(c) = chars.next() {
                    if c == ']' && !first {
                        break;
                    }
                    first = false;
                    if chars.peek() == Some(&'-') {
                        let mut ahead = chars.clone();
                        ahead.next();
                        if let Some(&hi) = ahead.peek().filter(|&&h| h != ']') {
                            chars.next();
                            chars.next();
                            items.push((c, hi));
                            continue;
                        }
                    }
                    items.push((c, c));
                }
                Tok::Class { negated, items }
            }
            '\\' => Tok::Lit(chars.next().unwrap_or('\\')),
            c => Tok::Lit(c),
        });
    }
    out
}

fn match_segments(pattern: &[Option<Vec<Tok>>], parts: &[&str]) -> Option<Vec<String>> {
    match pattern.split_first() {
        None => parts.is_empty().then(Vec::new),
        Some((None, rest)) => (0..=parts.len()).find_map(|skip| match_segments(rest, &parts[skip..])),
        Some((Some(toks), rest)) => {
            let (part, more) = parts.split_first()?;
            let chars: Vec<char> = part.chars().collect();
            let mut caps = Vec::new();
            if !match_tokens(toks, &chars, 0, &mut Vec::new(), &mut caps) {
                return None;
            }
            let mut tail = match_segments(rest, more)?;
            caps.append(&mut tail);
            Some(caps)
        }
    }
}

/// Backtracking match of `toks` against `s[i..]`; `open` holds where unclosed groups started,
/// `caps` receives closed groups in order of their opening.
fn match_tokens(toks: &[Tok], s: &[char], i: usize, open: &mut Vec<(usize, usize)>, caps: &mut Vec<String>) -> bool {
    let Some((tok, rest)) = toks.split_first() else { return i == s.len() };
    match tok {
        Tok::Lit(c) => s.get(i) == Some(c) && match_tokens(rest, s, i + 1, open, caps),
        Tok::One => i < s.len() && match_tokens(rest, s, i + 1, open, caps),
        Tok::Class { negated, items } => {
            s.get(i).is_some_and(|c| items.iter().any(|(lo, hi)| (lo..=hi).contains(&c)) != *negated)
                && match_tokens(rest, s, i + 1, open, caps)
        }
        Tok::Star => (i..=s.len()).any(|j| {
            let (o, c) = (open.clone(), caps.len());
            match_tokens(rest, s, j, open, caps) || {
                *open = o;
                caps.truncate(c);
                false
            }
        }),
        Tok::Open => {
            let slot = caps.len() + open.len();
            open.push((slot, i));
            match_tokens(rest, s, i, open, caps)
        }
        Tok::Close => {
            let Some((slot, start)) = open.pop() else { return false };
            let text: String = s[start..i].iter().collect();
            let at = slot.min(caps.len());
            caps.insert(at, text);
            match_tokens(rest, s, i, open, caps)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(pattern: &str, path: &str) -> Option<Vec<String>> {
        Glob::new(pattern).captures(path)
    }

    #[test]
    fn segments_stars_and_classes() {
        assert_eq!(caps("/", ""), Some(vec![]));
        assert_eq!(caps("/*", "a"), Some(vec![]));
        assert_eq!(caps("/*", "a/b"), None);
        assert_eq!(caps("/*/*", "a/b"), Some(vec![]));
        assert_eq!(caps("/train/*.csv", "train/x.csv"), Some(vec![]));
        assert_eq!(caps("/train/*.csv", "train/x.png"), None);
        assert_eq!(caps("/**/*.csv", "a/b/c.csv"), Some(vec![]));
        assert_eq!(caps("/**/*.csv", "c.csv"), Some(vec![]));
        assert_eq!(caps("/shard-[0-2].csv", "shard-1.csv"), Some(vec![]));
        assert_eq!(caps("/shard-[!0-2].csv", "shard-1.csv"), None);
        assert_eq!(caps("/?.txt", "a.txt"), Some(vec![]));
    }

    #[test]
    fn captures_in_order() {
        assert_eq!(caps("/(*)-(*).png", "cat-01.png"), Some(vec!["cat".into(), "01".into()]));
        assert_eq!(caps("/(*)/(*).csv", "2024/a.csv"), Some(vec!["2024".into(), "a".into()]));
        assert_eq!(caps("/img_(*)", "img_"), Some(vec![String::new()]));
        assert_eq!(caps("/(*)-x", "a-b-x"), Some(vec!["a-b".into()]));
    }
}
