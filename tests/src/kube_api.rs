//! A strict Kubernetes API server for tests: a test double, not a cluster.
//!
//! It follows the Kubernetes API conventions for the requests `pipe deploy` and `pipe status`
//! make, where the third-party emulator does not model them: discovery (`/api`, `/apis`, the
//! argoproj.io group, which can be absent; rbac.authorization.k8s.io's roles and rolebindings and
//! core serviceaccounts, which `pipe deploy` applies), bearer-token authentication (401), per-verb
//! authorization (403), namespaces that must exist (404), server-side apply
//! (`application/apply-patch+yaml` with a `fieldManager`) that creates or updates and keeps the
//! `resourceVersion` when nothing changed, `generateName`, server-assigned `uid`s, one
//! monotonic `resourceVersion` for every change, `dryRun=All`, `Status` bodies for every error,
//! names already taken (409), equality-based label selectors on lists, rejected objects (422),
//! and watches that replay what changed after a version, can be made to
//! end early (so clients must resume) and answer `410 Gone` for versions older than they keep.
//! The test changes a Workflow's status through [`KubeApi::set_status`], as Argo's controller
//! would.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// What the server refuses or lacks, set by the test before the client runs.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The bearer token it accepts.
    pub token: String,
    /// Whether the argoproj.io API group is installed.
    pub argo: bool,
    /// The namespaces that exist.
    pub namespaces: BTreeSet<String>,
    /// `(verb, plural)` the token may not do.
    pub forbidden: Option<(String, String)>,
    /// A plural whose objects are rejected as invalid (422), with the message.
    pub reject: Option<(String, String)>,
    /// End each watch after this many events (the client must resume).
    pub cut_watch_after: Option<usize>,
    /// Answer this many creates with 409 AlreadyExists, as if the names were taken.
    pub taken_creates: usize,
}

#[derive(Debug, Clone)]
struct Event {
    version: u64,
    kind: &'static str,
    plural: String,
    namespace: String,
    name: String,
    object: Value,
}

#[derive(Debug, Default)]
struct Inner {
    rules: Rules,
    version: u64,
    objects: BTreeMap<(String, String, String), Value>,
    history: Vec<Event>,
    /// Requests seen, as `METHOD path?query`.
    requests: Vec<String>,
}

type Shared = Arc<(Mutex<Inner>, tokio::sync::Notify)>;

/// A running server on 127.0.0.1.
#[derive(Debug)]
pub struct KubeApi {
    pub url: String,
    shared: Shared,
    _runtime: tokio::runtime::Runtime,
}

fn status(code: u16, reason: &str, message: String) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": reason, "code": code});
    (StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(body)).into_response()
}

fn resources(group_version: &str, list: &[(&str, &str, bool)]) -> Value {
    let resources: Vec<Value> = list
        .iter()
        .map(|(plural, kind, namespaced)| {
            json!({"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind,
                   "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

impl KubeApi {
    pub fn start(rules: Rules) -> KubeApi {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the test API server");
        let shared: Shared = Arc::new((Mutex::new(Inner { rules, ..Inner::default() }), tokio::sync::Notify::new()));
        let app = Router::new()
            .route("/api", get(|| async { axum::Json(json!({"kind": "APIVersions", "versions": ["v1"]})) }))
            .route(
                "/api/v1",
                get(|| async {
                    axum::Json(resources(
                        "v1",
                        &[
                            ("configmaps", "ConfigMap", true),
                            ("namespaces", "Namespace", false),
                            ("serviceaccounts", "ServiceAccount", true),
                        ],
                    ))
                }),
            )
            .route("/apis", get(groups))
            .route("/apis/argoproj.io/v1alpha1", get(argo_resources))
            .route("/api/v1/namespaces/{ns}", get(namespace))
            .route("/api/v1/namespaces/{ns}/{plural}/{name}", get(object).patch(object))
            .route("/apis/argoproj.io/v1alpha1/namespaces/{ns}/{plural}", get(collection).post(collection))
            .route("/apis/argoproj.io/v1alpha1/namespaces/{ns}/{plural}/{name}", get(object).patch(object))
            .route(
                "/apis/rbac.authorization.k8s.io/v1",
                get(|| async {
                    axum::Json(resources(
                        "rbac.authorization.k8s.io/v1",
                        &[("roles", "Role", true), ("rolebindings", "RoleBinding", true)],
                    ))
                }),
            )
            .route("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/{plural}/{name}", get(object).patch(object))
            .with_state(shared.clone());
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("a port on 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        runtime.spawn(async move { axum::serve(listener, app).await });
        KubeApi { url, shared, _runtime: runtime }
    }

    /// A kubeconfig for this server, with `token` as the user's credential.
    pub fn kubeconfig(&self, token: &str, namespace: &str) -> String {
        kubeconfig(&self.url, token, namespace)
    }

    /// The stored object, if any.
    pub fn get(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let inner = self.shared.0.lock().expect("state");
        inner.objects.get(&(plural.into(), namespace.into(), name.into())).cloned()
    }

    /// Names of the stored objects of `plural`.
    pub fn names(&self, plural: &str) -> Vec<String> {
        let inner = self.shared.0.lock().expect("state");
        inner.objects.keys().filter(|(p, _, _)| p == plural).map(|(_, _, n)| n.clone()).collect()
    }

    /// Every request so far, as `METHOD path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.shared.0.lock().expect("state").requests.clone()
    }

    /// Sets a Workflow's `status`, as Argo's controller does: a new version and a watch event.
    pub fn set_status(&self, namespace: &str, name: &str, new_status: Value) {
        let (lock, notify) = &*self.shared;
        let mut inner = lock.lock().expect("state");
        let key = ("workflows".to_owned(), namespace.to_owned(), name.to_owned());
        let Some(mut object) = inner.objects.get(&key).cloned() else { panic!("no workflow {namespace}/{name}") };
        object["status"] = new_status;
        store(&mut inner, key, object, "MODIFIED");
        notify.notify_waiters();
    }

    /// Sets each of `statuses` in turn and then forgets the history before the last, all at once,
    /// as etcd's compaction does: a watch that had not seen them all answers `410 Gone`.
    pub fn set_statuses_and_compact(&self, namespace: &str, name: &str, statuses: Vec<Value>) {
        let (lock, notify) = &*self.shared;
        let mut inner = lock.lock().expect("state");
        let key = ("workflows".to_owned(), namespace.to_owned(), name.to_owned());
        for new_status in statuses {
            let Some(mut object) = inner.objects.get(&key).cloned() else { panic!("no workflow {namespace}/{name}") };
            object["status"] = new_status;
            store(&mut inner, key.clone(), object, "MODIFIED");
        }
        let newest = inner.version;
        inner.history.retain(|e| e.version >= newest);
        drop(inner);
        notify.notify_waiters();
    }
}

/// An equality-based label selector (`k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated), as
/// `(key, wanted value or None for existence, negated)`; `None` if it does not parse.
fn parse_selector(text: &str) -> Option<Vec<(String, Option<String>, bool)>> {
    text.split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            let t = t.trim();
            if let Some((k, v)) = t.split_once("!=") {
                Some((k.trim().to_owned(), Some(v.trim().to_owned()), true))
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                Some((k.trim().to_owned(), Some(v.trim().to_owned()), false))
            } else if let Some(k) = t.strip_prefix('!') {
                Some((k.trim().to_owned(), None, true))
            } else if t.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
                Some((t.to_owned(), None, false))
            } else {
                None
            }
        })
        .collect()
}

fn selects(selector: &[(String, Option<String>, bool)], object: &Value) -> bool {
    selector.iter().all(|(key, value, negated)| {
        let label = object["metadata"]["labels"][key.as_str()].as_str();
        let matched = match value {
            Some(v) => label == Some(v.as_str()),
            None => label.is_some(),
        };
        matched != *negated
    })
}

impl KubeApi {
    /// Stores `object` as it is, as another client would (no checks).
    pub fn put_foreign(&self, plural: &str, namespace: &str, name: &str, object: Value) {
        let (lock, notify) = &*self.shared;
        let mut inner = lock.lock().expect("state");
        store(&mut inner, (plural.into(), namespace.into(), name.into()), object, "ADDED");
        notify.notify_waiters();
    }
}

/// A kubeconfig whose one context points at `url`, in `namespace`, with bearer `token`.
pub fn kubeconfig(url: &str, token: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {url}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n    namespace: {namespace}\ncurrent-context: test\nusers:\n- name: test\n  user:\n    token: {token}\n"
    )
}

fn store(inner: &mut Inner, key: (String, String, String), mut object: Value, kind: &'static str) -> Value {
    inner.version += 1;
    object["metadata"]["resourceVersion"] = Value::String(inner.version.to_string());
    let event = Event {
        version: inner.version,
        kind,
        plural: key.0.clone(),
        namespace: key.1.clone(),
        name: key.2.clone(),
        object: object.clone(),
    };
    inner.history.push(event);
    inner.objects.insert(key, object.clone());
    object
}

/// Authentication and authorization, as the API server does before anything else.
fn admit(
    inner: &mut Inner,
    headers: &HeaderMap,
    method: &Method,
    uri: &str,
    verb: &str,
    plural: &str,
    ns: &str,
) -> Option<Response> {
    inner.requests.push(format!("{method} {uri}"));
    let token = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if token != format!("Bearer {}", inner.rules.token) {
        return Some(status(401, "Unauthorized", "Unauthorized".into()));
    }
    if inner.rules.forbidden.as_ref().is_some_and(|(v, p)| v == verb && p == plural) {
        let group = match plural {
            "configmaps" | "serviceaccounts" | "namespaces" => "\"\"",
            "roles" | "rolebindings" => "\"rbac.authorization.k8s.io\"",
            _ => "\"argoproj.io\"",
        };
        return Some(status(
            403,
            "Forbidden",
            format!(
                "{plural} is forbidden: User \"test\" cannot {verb} resource \"{plural}\" in API group {group} in the namespace \"{ns}\""
            ),
        ));
    }
    None
}

async fn groups(State(shared): State<Shared>, headers: HeaderMap, method: Method) -> Response {
    let mut inner = shared.0.lock().expect("state");
    if let Some(r) = admit(&mut inner, &headers, &method, "/apis", "get", "", "") {
        return r;
    }
    let rbac = json!({"groupVersion": "rbac.authorization.k8s.io/v1", "version": "v1"});
    let mut groups =
        vec![json!({"name": "rbac.authorization.k8s.io", "versions": [rbac.clone()], "preferredVersion": rbac})];
    if inner.rules.argo {
        let gv = json!({"groupVersion": "argoproj.io/v1alpha1", "version": "v1alpha1"});
        groups.push(json!({"name": "argoproj.io", "versions": [gv.clone()], "preferredVersion": gv}));
    }
    axum::Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})).into_response()
}

async fn argo_resources(State(shared): State<Shared>, headers: HeaderMap, method: Method) -> Response {
    let mut inner = shared.0.lock().expect("state");
    if let Some(r) = admit(&mut inner, &headers, &method, "/apis/argoproj.io/v1alpha1", "get", "", "") {
        return r;
    }
    if !inner.rules.argo {
        return status(404, "NotFound", "the server could not find the requested resource".into());
    }
    let list = [
        ("workflows", "Workflow", true),
        ("workflowtemplates", "WorkflowTemplate", true),
        ("cronworkflows", "CronWorkflow", true),
    ];
    axum::Json(resources("argoproj.io/v1alpha1", &list)).into_response()
}

async fn namespace(
    State(shared): State<Shared>,
    Path(ns): Path<String>,
    headers: HeaderMap,
    method: Method,
) -> Response {
    let mut inner = shared.0.lock().expect("state");
    if let Some(r) = admit(&mut inner, &headers, &method, &format!("/api/v1/namespaces/{ns}"), "get", "namespaces", &ns)
    {
        return r;
    }
    if inner.rules.namespaces.contains(&ns) {
        axum::Json(json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": ns}})).into_response()
    } else {
        status(404, "NotFound", format!("namespaces \"{ns}\" not found"))
    }
}

/// The parts of an object its owner writes: what decides whether an apply changed anything.
fn written(object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for server_owned in ["resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"] {
            meta.remove(server_owned);
        }
    }
    if let Some(map) = o.as_object_mut() {
        map.remove("status");
    }
    o
}

async fn object(
    State(shared): State<Shared>,
    Path((ns, plural, name)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    method: Method,
    body: Bytes,
) -> Response {
    let mut inner = shared.0.lock().expect("state");
    let verb = if method == Method::PATCH { "patch" } else { "get" };
    let uri = format!(
        "/{plural}/{ns}/{name}?{}",
        query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
    );
    if let Some(r) = admit(&mut inner, &headers, &method, &uri, verb, &plural, &ns) {
        return r;
    }
    if !inner.rules.namespaces.contains(&ns) {
        return status(404, "NotFound", format!("namespaces \"{ns}\" not found"));
    }
    let key = (plural.clone(), ns.clone(), name.clone());
    if method == Method::GET {
        return match inner.objects.get(&key) {
            Some(o) => axum::Json(o.clone()).into_response(),
            None => status(404, "NotFound", format!("{plural} \"{name}\" not found")),
        };
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if content_type != "application/apply-patch+yaml" {
        return status(
            415,
            "UnsupportedMediaType",
            format!("only server-side apply is served here, not {content_type}"),
        );
    }
    if !query.contains_key("fieldManager") {
        return status(400, "BadRequest", "fieldManager is required for apply patch".into());
    }
    let Ok(applied) = serde_json::from_slice::<Value>(&body) else {
        return status(400, "BadRequest", "the apply patch is not JSON".into());
    };
    if applied["metadata"]["name"].as_str() != Some(name.as_str()) {
        return status(400, "BadRequest", "the name in the body does not match the URL".into());
    }
    if let Some((_, message)) = inner.rules.reject.as_ref().filter(|(p, _)| *p == plural) {
        let message = format!("{plural}.argoproj.io \"{name}\" is invalid: {message}");
        return status(422, "Invalid", message);
    }
    let dry = query.get("dryRun").is_some_and(|d| d == "All");
    let existing = inner.objects.get(&key).cloned();
    if let Some(old) = &existing
        && written(old) == written(&applied)
    {
        return axum::Json(old.clone()).into_response();
    }
    let mut object = applied;
    let created = existing.is_none();
    object["metadata"]["uid"] = match &existing {
        Some(old) => old["metadata"]["uid"].clone(),
        None => Value::String(format!("uid-{}", inner.version + 1)),
    };
    if dry {
        return axum::Json(object).into_response();
    }
    let object = store(&mut inner, key, object, if created { "ADDED" } else { "MODIFIED" });
    shared.1.notify_waiters();
    let code = if created { StatusCode::CREATED } else { StatusCode::OK };
    (code, axum::Json(object)).into_response()
}

async fn collection(
    State(shared): State<Shared>,
    Path((ns, plural)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    method: Method,
    body: Bytes,
) -> Response {
    let watching = query.get("watch").is_some_and(|w| w == "true" || w == "1");
    let verb = if method == Method::POST {
        "create"
    } else if watching {
        "watch"
    } else {
        "list"
    };
    {
        let mut inner = shared.0.lock().expect("state");
        let uri = format!("/{plural}/{ns}?{}", {
            let mut q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            q.sort();
            q.join("&")
        });
        if let Some(r) = admit(&mut inner, &headers, &method, &uri, verb, &plural, &ns) {
            return r;
        }
        if !inner.rules.namespaces.contains(&ns) {
            return status(404, "NotFound", format!("namespaces \"{ns}\" not found"));
        }
        if method == Method::POST {
            if inner.rules.taken_creates > 0 {
                inner.rules.taken_creates -= 1;
                let name = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|o| o["metadata"]["name"].as_str().map(str::to_owned));
                return status(
                    409,
                    "AlreadyExists",
                    format!("{plural}.argoproj.io \"{}\" already exists", name.unwrap_or_default()),
                );
            }
            let Ok(mut object) = serde_json::from_slice::<Value>(&body) else {
                return status(400, "BadRequest", "the object is not JSON".into());
            };
            let name = match (object["metadata"]["name"].as_str(), object["metadata"]["generateName"].as_str()) {
                (Some(n), _) => n.to_owned(),
                (None, Some(prefix)) => format!("{prefix}{:05x}", (inner.version * 7919 + 104_729) % 0xfffff),
                (None, None) => {
                    return status(422, "Invalid", "metadata.name or metadata.generateName is required".into());
                }
            };
            let key = (plural.clone(), ns.clone(), name.clone());
            if inner.objects.contains_key(&key) {
                return status(409, "AlreadyExists", format!("{plural} \"{name}\" already exists"));
            }
            object["metadata"]["name"] = Value::String(name);
            object["metadata"]["namespace"] = Value::String(ns.clone());
            object["metadata"]["uid"] = Value::String(format!("uid-{}", inner.version + 1));
            if query.get("dryRun").is_some_and(|d| d == "All") {
                return (StatusCode::CREATED, axum::Json(object)).into_response();
            }
            let object = store(&mut inner, key, object, "ADDED");
            shared.1.notify_waiters();
            return (StatusCode::CREATED, axum::Json(object)).into_response();
        }
        if !watching {
            let selector = query.get("labelSelector").map(String::as_str).unwrap_or_default();
            let Some(selector) = parse_selector(selector) else {
                return status(400, "BadRequest", format!("unable to parse requirement: {selector}"));
            };
            let items: Vec<Value> = inner
                .objects
                .iter()
                .filter(|((p, n, _), o)| *p == plural && *n == ns && selects(&selector, o))
                .map(|(_, o)| o.clone())
                .collect();
            let version = inner.version.to_string();
            return axum::Json(
                json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": version}, "items": items}),
            )
            .into_response();
        }
    }
    let name = query.get("fieldSelector").and_then(|f| f.strip_prefix("metadata.name=")).map(str::to_owned);
    let since: u64 = query.get("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
    let stream = futures::stream::unfold((shared, since, 0usize, false), move |(shared, mut since, sent, done)| {
        let (plural, ns, name) = (plural.clone(), ns.clone(), name.clone());
        async move {
            if done {
                return None;
            }
            loop {
                // Registered before the state is read, so a change in between still wakes it.
                let notified = shared.1.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                {
                    let inner = shared.0.lock().expect("state");
                    if inner.rules.cut_watch_after.is_some_and(|n| sent >= n) {
                        return None;
                    }
                    let oldest = inner.history.first().map_or(0, |e| e.version);
                    if since > 0 && since + 1 < oldest {
                        let gone = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                            "message": format!("too old resource version: {since} ({oldest})"), "reason": "Expired", "code": 410}});
                        return Some((
                            Ok::<_, std::io::Error>(format!("{gone}\n")),
                            (shared.clone(), since, sent + 1, true),
                        ));
                    }
                    let next = inner.history.iter().find(|e| {
                        e.version > since
                            && e.plural == plural
                            && e.namespace == ns
                            && name.as_ref().is_none_or(|n| *n == e.name)
                    });
                    if let Some(e) = next {
                        since = e.version;
                        let line = json!({"type": e.kind, "object": e.object});
                        return Some((Ok(format!("{line}\n")), (shared.clone(), since, sent + 1, false)));
                    }
                }
                notified.await;
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| status(500, "InternalError", "cannot stream".into()))
}
