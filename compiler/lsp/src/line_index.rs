//! Byte offsets ↔ LSP positions (zero-based line, UTF-16 column).
//!
//! Takes a text; gives conversions that never fail: positions past the end of a line or of the
//! text clamp to it, and offsets inside a character snap to its start. This is the only place that
//! knows about UTF-16.

use pipe_core::source::Span;
use tower_lsp_server::ls_types::{Position, Range};

#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1));
        LineIndex { starts, len: text.len() }
    }

    /// The byte offset of a position, clamped into the text.
    pub fn offset(&self, text: &str, pos: Position) -> usize {
        let Some(&start) = self.starts.get(pos.line as usize) else { return self.len };
        let end = self.starts.get(pos.line as usize + 1).map_or(self.len, |n| n - 1);
        let line = text.get(start..end).unwrap_or("");
        let mut units = 0u32;
        for (i, c) in line.char_indices() {
            if units >= pos.character {
                return start + i;
            }
            units += c.len_utf16() as u32;
        }
        end
    }

    /// The position of a byte offset; an offset inside a character counts as its start.
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(self.len);
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let character = text[start..offset].encode_utf16().count() as u32;
        Position { line: line as u32, character }
    }

    pub fn range(&self, text: &str, span: Span) -> Range {
        Range { start: self.position(text, span.start as usize), end: self.position(text, span.end as usize) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_round_trip() {
        let text = "a\nx = \"é🚀z\"\n";
        let idx = LineIndex::new(text);
        let z = text.find('z').expect("z");
        let pos = idx.position(text, z);
        assert_eq!(pos, Position { line: 1, character: 8 }, "é is one unit, 🚀 two");
        assert_eq!(idx.offset(text, pos), z);
    }

    #[test]
    fn out_of_range_positions_clamp() {
        let text = "ab\ncd";
        let idx = LineIndex::new(text);
        assert_eq!(idx.offset(text, Position { line: 0, character: 99 }), 2);
        assert_eq!(idx.offset(text, Position { line: 9, character: 0 }), text.len());
        let rocket = "🚀";
        let i = LineIndex::new(rocket);
        assert_eq!(i.position(rocket, 2), Position { line: 0, character: 0 }, "inside a character snaps back");
    }
}
