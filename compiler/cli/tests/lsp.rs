//! `pipe lsp` over real stdio: a JSON-RPC client drives the server through thousands of mutating
//! edits (the mutation corpus of the language tests, fed as incremental changes), with requests at
//! random positions — past the end, inside surrogate pairs — and a huge file. Every request must
//! be answered within a deadline, the process must stay up, and restoring the text must clear the
//! diagnostics.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

struct Client {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    next: i64,
    notes: Vec<Value>,
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pipe"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("pipe lsp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        len = n.parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&body)
                    && tx.send(v).is_err()
                {
                    return;
                }
            }
        });
        Client { child, stdin, rx, next: 1, notes: Vec::new() }
    }

    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("server reads");
        self.stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request and waits for its response, keeping notifications that arrive meanwhile.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        let until = Instant::now() + DEADLINE;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(v) if v["id"] == json!(id) && v.get("method").is_none() => return v,
                Ok(v) if v.get("id").is_some() && v.get("method").is_some() => {
                    // A request from the server (e.g. capability registration): answer it.
                    let reply = json!({ "jsonrpc": "2.0", "id": v["id"], "result": null });
                    self.send(reply);
                }
                Ok(v) => self.notes.push(v),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("`{method}` got no answer within {DEADLINE:?}: the server hangs")
                }
                Err(RecvTimeoutError::Disconnected) => panic!("the server died during `{method}`"),
            }
        }
    }

    /// Waits for the diagnostics of version `version` of `uri`.
    fn diagnostics_of(&mut self, uri: &str, version: i64) -> Vec<Value> {
        let until = Instant::now() + DEADLINE;
        loop {
            let found = self.notes.iter().rposition(|n| {
                n["method"] == "textDocument/publishDiagnostics"
                    && n["params"]["uri"] == uri
                    && n["params"]["version"] == version
            });
            if let Some(pos) = found {
                return self.notes[pos]["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
            }
            let left = until.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(v) => self.notes.push(v),
                Err(_) => panic!("no diagnostics for version {version} of {uri} within {DEADLINE:?}"),
            }
        }
    }
}

fn uri_of(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// (line, UTF-16 column) of the end of `text`.
fn end_of(text: &str) -> (usize, usize) {
    let line = text.matches('\n').count();
    let last = text.rsplit('\n').next().unwrap_or("");
    (line, last.encode_utf16().count())
}

const INSERTS: [&str; 12] = ["{", "}", "\"", "${", "(", "[", "\n", "=", "🚀", "é", "glob(", "stage x {"];

#[test]
fn the_server_survives_mutating_edits_and_answers_every_request() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/mnist/pipeline.pipe");
    let original = std::fs::read_to_string(&root).expect("example");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("pipeline.pipe");
    std::fs::write(&path, &original).expect("write");
    let uri = uri_of(&path);

    let mut c = Client::start();
    let init = c.request("initialize", json!({ "processId": null, "rootUri": null, "capabilities": {} }));
    assert_eq!(init["result"]["capabilities"]["textDocumentSync"], json!(2), "incremental sync");
    c.notify("initialized", json!({}));
    c.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "pipe", "version": 1, "text": original } }),
    );
    assert_eq!(c.diagnostics_of(&uri, 1), Vec::<Value>::new());

    let examples: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples"))
        .expect("examples")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("pipeline.pipe")).ok())
        .collect();
    assert!(examples.len() >= 4);
    let edits: u64 = std::env::var("PIPE_LSP_EDITS").ok().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let mut rng = fastrand::Rng::with_seed(7);
    let mut text = original.clone();
    for version in 2..edits as i64 + 2 {
        let (lines, _) = end_of(&text);
        let line = rng.usize(0..=lines + 1);
        let col = rng.usize(0..40);
        let (line2, col2) = (line + rng.usize(0..2), rng.usize(0..40));
        let insert = if rng.bool() { INSERTS[rng.usize(0..INSERTS.len())].to_string() } else { String::new() };
        let change = json!({
            "range": { "start": { "line": line, "character": col }, "end": { "line": line2, "character": col2 } },
            "text": insert,
        });
        c.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [change] }),
        );
        // Mirror the edit well enough to keep generating plausible positions.
        if rng.u8(0..8) == 0 {
            text = original.clone();
            c.notify(
                "textDocument/didChange",
                json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
            );
        } else {
            text.push_str(&insert);
        }
        if version % 4 == 0 {
            let pos = json!({ "line": rng.usize(0..lines + 3), "character": rng.usize(0..120) });
            let doc = json!({ "uri": uri });
            let method =
                ["textDocument/hover", "textDocument/completion", "textDocument/definition", "textDocument/references"]
                    [rng.usize(0..4)];
            let mut params = json!({ "textDocument": doc, "position": pos });
            if method == "textDocument/references" {
                params["context"] = json!({ "includeDeclaration": true });
            }
            let r = c.request(method, params);
            assert!(r.get("result").is_some() || r.get("error").is_some(), "{method}: {r}");
        }
        if version % 50 == 0 {
            let r = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } }));
            assert!(r.get("result").is_some(), "{r}");
            c.request(
                "textDocument/formatting",
                json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
            );
        }
    }

    let broken = "stage a {\n  image = \"x\"\n  gpus = 🚀\n";
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 99_998 }, "contentChanges": [{ "text": broken }] }),
    );
    let diags = c.diagnostics_of(&uri, 99_998);
    assert!(!diags.is_empty());
    assert!(diags.iter().all(|d| d["range"]["start"]["line"].as_u64().is_some_and(|l| l <= 3)), "{diags:?}");

    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 99_999 }, "contentChanges": [{ "text": original }] }),
    );
    assert_eq!(c.diagnostics_of(&uri, 99_999), Vec::<Value>::new(), "restoring the text clears the diagnostics");

    // A ranged edit lands exactly: `nnodes` → `nodes` on its line, after a non-ASCII line.
    let line = original.lines().position(|l| l.trim_start().starts_with("nnodes")).expect("nnodes line");
    let col = original.lines().nth(line).and_then(|l| l.find("nnodes")).expect("column");
    let edit = json!({ "range": { "start": { "line": line, "character": col }, "end": { "line": line, "character": col + 6 } }, "text": "nodes" });
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 100_000 }, "contentChanges": [edit] }),
    );
    let diags = c.diagnostics_of(&uri, 100_000);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(
        (diags[0]["code"].as_str(), diags[0]["range"]["start"]["line"].as_u64()),
        (Some("E3002"), Some(line as u64))
    );

    // Formatting through the protocol: one edit that replaces the document with `pipe fmt`'s output.
    let messy = "stage a{image=\"alpine:3.20\"}\n";
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 100_001 }, "contentChanges": [{ "text": messy }] }),
    );
    let fmt = c.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert_eq!(fmt["result"][0]["newText"], "stage a {\n  image = \"alpine:3.20\"\n}\n", "{fmt}");

    let huge: String = (0..5000).map(|k| format!("stage s{k} {{\n  image = \"alpine:3.20\"\n}}\n\n")).collect();
    let huge_uri = uri_of(&dir.path().join("huge.pipe"));
    c.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": huge_uri, "languageId": "pipe", "version": 1, "text": huge } }),
    );
    assert_eq!(c.diagnostics_of(&huge_uri, 1), Vec::<Value>::new());
    let far = c.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": huge_uri }, "position": { "line": 1_000_000, "character": 5 } }),
    );
    assert!(far.get("result").is_some(), "{far}");

    let shut = c.request("shutdown", Value::Null);
    assert!(shut.get("error").is_none());
    c.notify("exit", Value::Null);
    let status = c.child.wait().expect("exit");
    assert!(status.success(), "the server exits cleanly after shutdown: {status}");
}

/// The specification: a `$/` request the server does not implement is answered with
/// MethodNotFound (-32601), a `$/` notification ignored. It used to get no answer at all, and a
/// client waited for it forever.
#[test]
fn a_dollar_request_is_answered_method_not_found_and_a_dollar_notification_ignored() {
    let mut c = Client::start();
    c.request("initialize", json!({ "processId": null, "rootUri": null, "capabilities": {} }));
    c.notify("initialized", json!({}));
    c.notify("$/unknownNotification", json!({}));
    let answer = c.request("$/unknown", json!({}));
    assert_eq!(answer["error"]["code"], json!(-32601), "{answer}");
    // Still serving.
    let shutdown = c.request("shutdown", json!(null));
    assert!(shutdown.get("error").is_none(), "{shutdown}");
}

/// JSON-RPC 2.0: input that is not a message gets an error answer (Parse error -32700 or Invalid
/// Request -32600) and the server goes on. It used to answer and then stop reading (tokio-util's
/// `FramedRead` ends after its first decode error): the process exited 0 and the editor was left
/// without a server. The LSP specification's exit codes: 0 after `shutdown`, 1 without.
#[test]
fn a_malformed_frame_is_answered_and_the_session_goes_on() {
    let frame = |body: &[u8]| [format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes(), body.to_vec()].concat();
    let malformed: Vec<(&str, Vec<u8>, i64)> = vec![
        ("not json", frame(b"hello"), -32700),
        ("truncated json", frame(br#"{"jsonrpc":"2.0","id":1,"method":"#), -32700),
        ("not utf-8", frame(b"{\"jsonrpc\":\"2.0\",\"method\":\"\xff\"}"), -32700),
        ("empty body", frame(b""), -32700),
        ("an array", frame(b"[]"), -32600),
        ("a number", frame(b"42"), -32600),
        ("an empty object", frame(b"{}"), -32600),
        ("jsonrpc 1.0", frame(br#"{"jsonrpc":"1.0","id":1,"method":"x"}"#), -32600),
        ("a numeric method", frame(br#"{"jsonrpc":"2.0","id":1,"method":5}"#), -32600),
        ("no Content-Length", b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}".to_vec(), -32700),
        ("a length that is no number", b"Content-Length: abc\r\n\r\n{}".to_vec(), -32700),
        ("a negative length", b"Content-Length: -5\r\n\r\n{}".to_vec(), -32700),
        ("a header without a colon", b"garbage\r\n\r\n".to_vec(), -32700),
    ];
    let mut c = Client::start();
    c.request("initialize", json!({ "processId": null, "rootUri": null, "capabilities": {} }));
    for (what, bytes, code) in malformed {
        c.stdin.write_all(&bytes).expect("server reads");
        c.stdin.flush().expect("flush");
        let answer =
            c.rx.recv_timeout(DEADLINE).unwrap_or_else(|e| panic!("{what}: no answer ({e}): the server stopped"));
        assert_eq!(answer["error"]["code"], json!(code), "{what}: {answer}");
        let symbols =
            c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": "file:///nowhere.pipe" } }));
        assert!(symbols.get("id").is_some(), "{what}: still serving: {symbols}");
    }
    c.request("shutdown", json!(null));
    c.notify("exit", json!(null));
    assert_eq!(c.child.wait().expect("exits").code(), Some(0), "exit after shutdown is 0");

    let mut c = Client::start();
    c.request("initialize", json!({ "processId": null, "rootUri": null, "capabilities": {} }));
    drop(c.stdin);
    assert_eq!(c.child.wait().expect("exits").code(), Some(1), "input ending without shutdown is 1");
}
