//! Base-protocol framing that survives a malformed client.
//!
//! Takes the client's byte stream; gives the server only frames whose body is a JSON-RPC message,
//! re-framed with one canonical `Content-Length` header, and answers every other frame itself:
//! a body that is not UTF-8 JSON gets a Parse error (-32700), JSON that is no JSON-RPC message an
//! Invalid Request (-32600, with the body's id when it has one), a header block without a usable
//! `Content-Length` a Parse error after which reading resumes at the next `Content-Length`, and a
//! body over [`MAX_BODY`] an error while its bytes are skipped. tower-lsp-server's own reader ends
//! the session at the first frame it cannot decode (tokio-util's `FramedRead` stops after an
//! error), which left an editor without diagnostics; the JSON-RPC 2.0 specification answers such
//! input and goes on. Also says whether `shutdown` came before the end, for the exit code the
//! LSP specification asks of `exit` (0 after `shutdown`, 1 otherwise). Does not interpret any
//! message beyond that.

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tower_lsp_server::jsonrpc::{Request, Response};

/// The largest body the server reads (a `didOpen` of a 128 MiB pipeline); larger ones are skipped.
pub(crate) const MAX_BODY: usize = 128 << 20;
/// The longest header block; a longer one is garbage, skipped up to the next `Content-Length`.
const MAX_HEADER: usize = 8 << 10;
const CONTENT_LENGTH: &[u8] = b"content-length";

/// What one frame of input turned out to be.
#[derive(Debug, PartialEq)]
pub(crate) enum Incoming {
    /// A JSON-RPC message for the server; `shutdown` says it is the `shutdown` request.
    Message { body: Vec<u8>, shutdown: bool },
    /// Input the server must not see, and the error to answer it with.
    Malformed { code: i64, message: String, id: Value },
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Head,
    /// After a broken header block: discard up to the next `Content-Length`.
    Resync,
    Body(usize),
    Skip(usize),
}

/// Splits a byte stream into [`Incoming`] frames; never fails, so one bad frame ends nothing.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    state: State,
}

impl Decoder {
    /// Takes the next frame off the front of `buf`, or `None` when more bytes are needed.
    pub(crate) fn decode(&mut self, buf: &mut Vec<u8>) -> Option<Incoming> {
        loop {
            match self.state {
                State::Head => {
                    let parsed = match find(buf, b"\r\n\r\n") {
                        Some(end) if end <= MAX_HEADER => content_length(&buf[..end]).map(|len| (end, len)),
                        None if buf.len() <= MAX_HEADER => return None,
                        _ => Err("a header block longer than 8 KiB".to_string()),
                    };
                    match parsed {
                        Ok((end, len)) if len > MAX_BODY => {
                            buf.drain(..end + 4);
                            self.state = State::Skip(len);
                            return Some(Incoming::Malformed {
                                code: -32600,
                                message: format!("a message of {len} bytes; the server reads at most {MAX_BODY}"),
                                id: Value::Null,
                            });
                        }
                        Ok((end, len)) => {
                            buf.drain(..end + 4);
                            self.state = State::Body(len);
                        }
                        Err(why) => {
                            // Start looking for the next message one byte on, inside this block.
                            buf.drain(..1);
                            self.state = State::Resync;
                            return Some(parse_error(&why));
                        }
                    }
                }
                State::Resync => match find_ignore_case(buf, CONTENT_LENGTH) {
                    Some(at) => {
                        buf.drain(..at);
                        self.state = State::Head;
                    }
                    None => {
                        let keep = CONTENT_LENGTH.len() - 1;
                        let cut = buf.len().saturating_sub(keep);
                        buf.drain(..cut);
                        return None;
                    }
                },
                State::Skip(left) => {
                    let n = left.min(buf.len());
                    buf.drain(..n);
                    if n < left {
                        self.state = State::Skip(left - n);
                        return None;
                    }
                    self.state = State::Head;
                }
                State::Body(len) => {
                    if buf.len() < len {
                        return None;
                    }
                    let body = buf.drain(..len).collect::<Vec<_>>();
                    self.state = State::Head;
                    return Some(classify(body));
                }
            }
        }
    }
}

fn parse_error(why: &str) -> Incoming {
    Incoming::Malformed { code: -32700, message: format!("Parse error: {why}"), id: Value::Null }
}

/// The value of the `Content-Length` header (names are case-insensitive, as in HTTP).
fn content_length(head: &[u8]) -> Result<usize, String> {
    let head = std::str::from_utf8(head).map_err(|_| "a header that is not UTF-8".to_string())?;
    let mut len = None;
    for line in head.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("a header line without a colon: {:?}", truncate(line)));
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            let n = value
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("Content-Length {:?} is not a byte count", truncate(value.trim())))?;
            len = Some(n);
        }
    }
    len.ok_or_else(|| "a header block without Content-Length".to_string())
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

fn classify(body: Vec<u8>) -> Incoming {
    let Ok(text) = std::str::from_utf8(&body) else {
        return parse_error("the body is not UTF-8");
    };
    let value = match serde_json::from_str::<Value>(text) {
        Ok(v) => v,
        Err(e) => return parse_error(&format!("the body is not JSON ({e})")),
    };
    // The server decodes a message as a response or else a request; forward exactly what it can.
    if serde_json::from_str::<Response>(text).is_ok() || serde_json::from_str::<Request>(text).is_ok() {
        let shutdown = value.get("method").and_then(Value::as_str) == Some("shutdown") && value.get("id").is_some();
        return Incoming::Message { body, shutdown };
    }
    let id = match value.get("id") {
        Some(id @ (Value::Number(_) | Value::String(_))) => id.clone(),
        _ => Value::Null,
    };
    Incoming::Malformed { code: -32600, message: "Invalid Request: not a JSON-RPC 2.0 message".into(), id }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn find_ignore_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// Reads `input` until it ends: well-formed messages go to `server`, answers to malformed ones to
/// `out`; sets `shutdown` when a `shutdown` request comes through.
pub(crate) async fn filter(
    mut input: impl AsyncRead + Unpin,
    mut server: impl AsyncWrite + Unpin,
    out: mpsc::UnboundedSender<Vec<u8>>,
    shutdown: Arc<AtomicBool>,
) {
    let mut decoder = Decoder::default();
    let mut buf = Vec::with_capacity(64 << 10);
    loop {
        while let Some(item) = decoder.decode(&mut buf) {
            match item {
                Incoming::Message { body, shutdown: s } => {
                    if s {
                        shutdown.store(true, Ordering::SeqCst);
                    }
                    if server.write_all(&frame(&body)).await.is_err() || server.flush().await.is_err() {
                        return;
                    }
                }
                Incoming::Malformed { code, message, id } => {
                    let answer = json!({ "jsonrpc": "2.0", "error": { "code": code, "message": message }, "id": id });
                    let _ = out.send(frame(answer.to_string().as_bytes()));
                }
            }
        }
        match input.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Copies the server's frames to `out` whole, so answers from [`filter`] never split one.
pub(crate) async fn frames(server: impl AsyncRead + Unpin, out: mpsc::UnboundedSender<Vec<u8>>) {
    let mut reader = BufReader::new(server);
    loop {
        let mut head = Vec::new();
        let mut len = None;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            head.extend_from_slice(line.as_bytes());
            if line == "\r\n" {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                len = n.trim().parse::<usize>().ok();
            }
        }
        let Some(len) = len else { return };
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        head.extend_from_slice(&body);
        if out.send(head).is_err() {
            return;
        }
    }
}

/// Writes whole frames to `stdout` until every sender is gone.
pub(crate) async fn write_out(mut stdout: impl AsyncWrite + Unpin, mut frames: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(f) = frames.recv().await {
        if stdout.write_all(&f).await.is_err() || stdout.flush().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Vec<Incoming> {
        let mut d = Decoder::default();
        let mut buf = input.to_vec();
        std::iter::from_fn(|| d.decode(&mut buf)).collect()
    }

    fn ok(body: &str) -> Vec<u8> {
        frame(body.as_bytes())
    }

    const EXIT: &str = r#"{"jsonrpc":"2.0","method":"exit"}"#;

    fn codes(items: &[Incoming]) -> Vec<i64> {
        items
            .iter()
            .map(|i| match i {
                Incoming::Message { .. } => 0,
                Incoming::Malformed { code, .. } => *code,
            })
            .collect()
    }

    #[test]
    fn each_malformed_frame_is_answered_and_the_next_message_still_arrives() {
        let cases: Vec<(&str, Vec<u8>, i64)> = vec![
            ("not json", ok("hello"), -32700),
            ("truncated json", ok(r#"{"jsonrpc":"2.0","id":1,"method":"#), -32700),
            ("not utf-8", frame(b"{\"jsonrpc\":\"2.0\",\"method\":\"\xff\"}"), -32700),
            ("empty body", ok(""), -32700),
            ("array", ok("[]"), -32600),
            ("number", ok("42"), -32600),
            ("empty object", ok("{}"), -32600),
            ("jsonrpc 1.0", ok(r#"{"jsonrpc":"1.0","id":1,"method":"x"}"#), -32600),
            ("method not a string", ok(r#"{"jsonrpc":"2.0","id":1,"method":5}"#), -32600),
            (
                "no content-length",
                b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}".to_vec(),
                -32700,
            ),
            ("length not a number", b"Content-Length: abc\r\n\r\n{}".to_vec(), -32700),
            ("negative length", b"Content-Length: -5\r\n\r\n{}".to_vec(), -32700),
            ("header without colon", b"garbage\r\n\r\n".to_vec(), -32700),
        ];
        for (what, bad, code) in cases {
            let mut input = bad;
            input.extend(ok(EXIT));
            let got = decode_all(&input);
            assert_eq!(codes(&got), [code, 0], "{what}: {got:?}");
            assert!(matches!(&got[1], Incoming::Message { body, .. } if body == EXIT.as_bytes()), "{what}");
        }
    }

    #[test]
    fn an_invalid_request_is_answered_with_its_own_id() {
        let got = decode_all(&ok(r#"{"jsonrpc":"1.0","id":"x7","method":"m"}"#));
        assert!(matches!(&got[0], Incoming::Malformed { id, .. } if id == "x7"), "{got:?}");
    }

    #[test]
    fn an_oversized_body_is_skipped_without_being_buffered() {
        let mut d = Decoder::default();
        let mut buf = format!("Content-Length: {}\r\n\r\n", MAX_BODY + 10).into_bytes();
        assert!(matches!(d.decode(&mut buf), Some(Incoming::Malformed { code: -32600, .. })));
        for _ in 0..(MAX_BODY + 10) / (1 << 20) {
            buf.extend(std::iter::repeat_n(b'x', 1 << 20));
            assert_eq!(d.decode(&mut buf), None);
            assert!(buf.is_empty(), "skipped bytes are dropped at once");
        }
        buf.extend(std::iter::repeat_n(b'x', (MAX_BODY + 10) % (1 << 20)));
        buf.extend(ok(EXIT));
        assert!(matches!(d.decode(&mut buf), Some(Incoming::Message { .. })));
    }

    #[test]
    fn a_frame_split_anywhere_decodes_the_same() {
        let mut input = ok(r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#);
        input.extend(ok("nope"));
        input.extend(ok(EXIT));
        let whole = decode_all(&input);
        for cut in 0..input.len() {
            let mut d = Decoder::default();
            let mut buf = input[..cut].to_vec();
            let mut got: Vec<_> = std::iter::from_fn(|| d.decode(&mut buf)).collect();
            buf.extend_from_slice(&input[cut..]);
            got.extend(std::iter::from_fn(|| d.decode(&mut buf)));
            assert_eq!(got, whole, "split at {cut}");
        }
        assert!(matches!(&whole[0], Incoming::Message { shutdown: true, .. }));
    }

    #[test]
    fn garbage_without_headers_resyncs_at_the_next_content_length() {
        let mut input = vec![b'z'; 3 * MAX_HEADER];
        input.extend(ok(EXIT));
        let got = decode_all(&input);
        assert_eq!(codes(&got), [-32700, 0], "{got:?}");
    }

    #[test]
    fn header_names_are_case_insensitive_and_content_type_is_allowed() {
        let input = format!(
            "content-length: {}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{EXIT}",
            EXIT.len()
        );
        assert_eq!(codes(&decode_all(input.as_bytes())), [0]);
    }
}
