//! The LSP server: protocol messages in, features of this crate out.
//!
//! Takes JSON-RPC over stdio (through tower-lsp-server); keeps a [`Workspace`] of open documents
//! with incremental sync, reanalyses on every change (the file itself and the open files that may
//! use it) and publishes diagnostics for every file an analysis covers, clearing files that no
//! longer have any. Holds no lock across an `await`.

use crate::workspace::Workspace;
use crate::{complete, diagnostics, hover, navigate, symbols};
use pipe_core::Analysis;
use pipe_core::source::{FileId, Span};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::{AsyncRead, AsyncWrite};
use tower_lsp_server::jsonrpc::{Error, Request, Response, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

/// Diagnostics of one analysis: its root file, the root's version, and every file's list.
type Batch = (String, i32, BTreeMap<String, Vec<Diagnostic>>);

#[derive(Debug)]
pub struct Backend {
    client: Client,
    ws: Mutex<Workspace>,
    /// For each open document, the files it last published diagnostics for.
    published: Mutex<HashMap<String, Vec<String>>>,
}

/// How a session ended, for the process's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `exit` (or the end of input) after a `shutdown` request: exit code 0.
    AfterShutdown,
    /// The input ended, or `exit` came, without `shutdown`: exit code 1, as the specification asks.
    WithoutShutdown,
}

/// Runs the server on stdin/stdout until the client exits or its input ends.
pub fn run_stdio() -> std::io::Result<Ending> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let ending = rt.block_on(serve(tokio::io::stdin(), tokio::io::stdout()));
    // A read of stdin may still be blocked on a thread of the runtime's pool: do not wait for it.
    rt.shutdown_background();
    Ok(ending)
}

/// Serves one client on `input`/`output`. Input passes through [`framing`](crate::framing), so a
/// malformed frame is answered and the session goes on.
pub async fn serve(input: impl AsyncRead + Unpin + Send + 'static, output: impl AsyncWrite + Unpin) -> Ending {
    use crate::framing;
    const PIPE: usize = 1 << 20;
    let (server_in, to_server) = tokio::io::duplex(PIPE);
    let (from_server, server_out) = tokio::io::duplex(PIPE);
    let (out_tx, out_rx) = tokio::sync::mpsc::unbounded_channel();
    let shutdown = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn(framing::filter(input, to_server, out_tx.clone(), shutdown.clone()));
    let server = async {
        let (service, socket) = LspService::new(Backend::new);
        Server::new(server_in, server_out, socket).serve(DollarRequests(service)).await;
        // The server is done (after `exit`, or its input ended): stop reading the client.
        reader.abort();
        let _ = reader.await;
    };
    tokio::join!(server, framing::frames(from_server, out_tx), framing::write_out(output, out_rx));
    if shutdown.load(Ordering::SeqCst) { Ending::AfterShutdown } else { Ending::WithoutShutdown }
}

/// Answers requests whose method starts with `$/` with MethodNotFound, as the specification asks
/// of a server that does not implement them ("$ Notifications and Requests"); notifications stay
/// ignored. tower-lsp-server drops that answer for every `$/` method, requests included, which
/// leaves a client waiting forever. The server implements no `$/` request.
struct DollarRequests<S>(S);

type Answer<E> = std::pin::Pin<Box<dyn std::future::Future<Output = std::result::Result<Option<Response>, E>> + Send>>;

impl<S> tower::Service<Request> for DollarRequests<S>
where
    S: tower::Service<Request, Response = Option<Response>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Option<Response>;
    type Error = S::Error;
    type Future = Answer<S::Error>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::result::Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if req.method().starts_with("$/")
            && let Some(id) = req.id().cloned()
        {
            return Box::pin(std::future::ready(Ok(Some(Response::from_error(id, Error::method_not_found())))));
        }
        Box::pin(self.0.call(req))
    }
}

fn path_of(uri: &Uri) -> String {
    match uri.to_file_path() {
        Some(p) => p.to_string_lossy().into_owned(),
        None => uri.as_str().to_string(),
    }
}

fn uri_of(name: &str) -> Option<Uri> {
    Uri::from_file_path(name).or_else(|| name.parse().ok())
}

/// A span of an analysis as an LSP location.
fn location(a: &Analysis, span: Span) -> Option<Location> {
    let file = a.sources().get(span.file);
    let index = crate::line_index::LineIndex::new(&file.text);
    Some(Location { uri: uri_of(&file.name)?, range: index.range(&file.text, span) })
}

impl Backend {
    pub fn new(client: Client) -> Self {
        Backend { client, ws: Mutex::new(Workspace::default()), published: Mutex::new(HashMap::new()) }
    }

    fn ws(&self) -> MutexGuard<'_, Workspace> {
        self.ws.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on a document's analysis and the byte offset of `pos`.
    fn at<T>(&self, uri: &Uri, pos: Position, f: impl FnOnce(&Analysis, usize) -> T) -> Option<T> {
        let ws = self.ws();
        let doc = ws.get(&path_of(uri))?;
        let offset = doc.index.offset(&doc.text, pos);
        Some(f(&doc.analysis, offset))
    }

    /// Diagnostics to publish after `path` changed: its own and those of every other open file.
    fn collect(&self, path: &str, changed: bool) -> Vec<Batch> {
        let mut ws = self.ws();
        let mut out = Vec::new();
        if let Some(doc) = ws.get(path) {
            out.push((path.to_string(), doc.version, diagnostics::by_file(&doc.analysis)));
        }
        if changed {
            for other in ws.others(path) {
                if let Some(doc) = ws.refresh(&other) {
                    out.push((other, doc.version, diagnostics::by_file(&doc.analysis)));
                }
            }
        }
        out
    }

    async fn publish(&self, batches: Vec<Batch>) {
        let mut sends = Vec::new();
        {
            let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
            for (root, version, files) in batches {
                let previous = published.insert(root.clone(), files.keys().cloned().collect()).unwrap_or_default();
                for stale in previous.into_iter().filter(|f| !files.contains_key(f)) {
                    sends.push((stale, Vec::new(), None));
                }
                // A file's own diagnostics come from its own analysis; others only add theirs.
                for (file, diags) in files {
                    if file == root {
                        sends.push((file, diags, Some(version)));
                    } else if !diags.is_empty() {
                        sends.push((file, diags, None));
                    }
                }
            }
        }
        for (file, diags, version) in sends {
            if let Some(uri) = uri_of(&file) {
                self.client.publish_diagnostics(uri, diags, version).await;
            }
        }
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, _: InitializeParams) -> Result<InitializeResult> {
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::INCREMENTAL)),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                definition_provider: Some(OneOf::Left(true)),
                references_provider: Some(OneOf::Left(true)),
                document_symbol_provider: Some(OneOf::Left(true)),
                document_formatting_provider: Some(OneOf::Left(true)),
                rename_provider: Some(OneOf::Right(RenameOptions {
                    prepare_provider: Some(true),
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                })),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(["(", ":", "$", "{", " ", "."].iter().map(|s| s.to_string()).collect()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            server_info: Some(ServerInfo { name: "pipe".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
            offset_encoding: None,
        })
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let path = path_of(&params.text_document.uri);
        self.ws().open(&path, params.text_document.text, params.text_document.version);
        let batches = self.collect(&path, true);
        self.publish(batches).await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let path = path_of(&params.text_document.uri);
        if self.ws().change(&path, params.content_changes, params.text_document.version).is_none() {
            return;
        }
        let batches = self.collect(&path, true);
        self.publish(batches).await;
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let path = path_of(&params.text_document.uri);
        self.ws().close(&path);
        let files = self.published.lock().unwrap_or_else(|e| e.into_inner()).remove(&path).unwrap_or_default();
        for file in files {
            if let Some(uri) = uri_of(&file) {
                self.client.publish_diagnostics(uri, Vec::new(), None).await;
            }
        }
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let p = params.text_document_position_params;
        let text = self.at(&p.text_document.uri, p.position, |a, offset| hover::hover(a, FileId(0), offset)).flatten();
        Ok(text.map(|value| Hover {
            contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value }),
            range: None,
        }))
    }

    async fn goto_definition(&self, params: GotoDefinitionParams) -> Result<Option<GotoDefinitionResponse>> {
        let p = params.text_document_position_params;
        let loc = self
            .at(&p.text_document.uri, p.position, |a, offset| {
                navigate::definition(a, FileId(0), offset).and_then(|s| location(a, s))
            })
            .flatten();
        Ok(loc.map(GotoDefinitionResponse::Scalar))
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let p = params.text_document_position;
        let include = params.context.include_declaration;
        let locs = self.at(&p.text_document.uri, p.position, |a, offset| {
            navigate::references(a, FileId(0), offset, include).into_iter().filter_map(|s| location(a, s)).collect()
        });
        Ok(locs)
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let p = params.text_document_position;
        let items = self.at(&p.text_document.uri, p.position, complete::complete);
        Ok(items.map(CompletionResponse::Array))
    }

    async fn document_symbol(&self, params: DocumentSymbolParams) -> Result<Option<DocumentSymbolResponse>> {
        let ws = self.ws();
        let Some(doc) = ws.get(&path_of(&params.text_document.uri)) else { return Ok(None) };
        fn convert(doc: &crate::workspace::Doc, s: symbols::Symbol) -> DocumentSymbol {
            #[allow(deprecated)]
            DocumentSymbol {
                name: s.name,
                detail: s.detail,
                kind: s.kind,
                tags: None,
                deprecated: None,
                range: doc.index.range(&doc.text, s.span),
                selection_range: doc.index.range(&doc.text, s.name_span),
                children: Some(s.children.into_iter().map(|c| convert(doc, c)).collect()),
            }
        }
        let out = symbols::symbols(&doc.analysis).into_iter().map(|s| convert(doc, s)).collect();
        Ok(Some(DocumentSymbolResponse::Nested(out)))
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        let ws = self.ws();
        let Some(doc) = ws.get(&path_of(&params.text_document.uri)) else { return Ok(None) };
        let Ok(formatted) = pipe_core::format::format(&doc.text) else { return Ok(None) };
        if formatted == doc.text {
            return Ok(Some(Vec::new()));
        }
        let end = doc.index.position(&doc.text, doc.text.len());
        Ok(Some(vec![TextEdit { range: Range { start: Position::new(0, 0), end }, new_text: formatted }]))
    }

    async fn prepare_rename(&self, params: TextDocumentPositionParams) -> Result<Option<PrepareRenameResponse>> {
        let ws = self.ws();
        let Some(doc) = ws.get(&path_of(&params.text_document.uri)) else { return Ok(None) };
        let offset = doc.index.offset(&doc.text, params.position);
        match navigate::prepare_rename(&doc.analysis, FileId(0), offset) {
            Ok((span, placeholder)) => Ok(Some(PrepareRenameResponse::RangeWithPlaceholder {
                range: doc.index.range(&doc.text, span),
                placeholder,
            })),
            Err(why) => Err(Error::invalid_params(why)),
        }
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let p = params.text_document_position;
        let new_name = params.new_name;
        let edits = self.at(&p.text_document.uri, p.position, |a, offset| {
            navigate::rename(a, FileId(0), offset, &new_name).map(|spans| {
                let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
                for s in spans {
                    if let Some(loc) = location(a, s) {
                        changes
                            .entry(loc.uri)
                            .or_default()
                            .push(TextEdit { range: loc.range, new_text: new_name.clone() });
                    }
                }
                WorkspaceEdit { changes: Some(changes), ..Default::default() }
            })
        });
        match edits {
            Some(Ok(edit)) => Ok(Some(edit)),
            Some(Err(why)) => Err(Error::invalid_params(why)),
            None => Ok(None),
        }
    }
}
