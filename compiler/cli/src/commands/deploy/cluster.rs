//! Talking to a Kubernetes cluster with `kube`: the client from kubeconfig (or in-cluster config),
//! the checks before deploying (Argo's CRDs by discovery, the namespace), server-side apply with
//! field manager `pipe`, creation, and every failure turned into one [`DeployError`] that says
//! what to do.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::Value;

/// The field manager of every apply, so re-deploying updates what pipe owns and nothing else.
pub(super) const FIELD_MANAGER: &str = "pipe";

#[derive(Debug)]
pub(super) enum DeployError {
    NoConfig(String),
    Unreachable { url: String, detail: String },
    Unauthorized { url: String },
    Forbidden { verb: String, resource: String, namespace: String, message: String },
    NamespaceMissing(String),
    ArgoMissing { url: String },
    Rejected { code: u16, kind: String, name: String, message: String },
    Conflict { verb: String, kind: String, name: String, message: String },
    Other(String),
}

impl std::fmt::Display for DeployError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeployError::NoConfig(why) => write!(f, "no Kubernetes configuration: {why}"),
            DeployError::Unreachable { url, detail } => write!(f, "no cluster answers at {url}: {detail}"),
            DeployError::Unauthorized { url } => write!(f, "the cluster at {url} rejected the credentials (401)"),
            DeployError::Forbidden { verb, resource, namespace, message } => {
                write!(f, "forbidden to {verb} {resource} in namespace `{namespace}` (403): {message}")
            }
            DeployError::NamespaceMissing(ns) => write!(f, "namespace `{ns}` does not exist"),
            DeployError::ArgoMissing { url } => {
                write!(f, "Argo Workflows is not installed on {url}: no argoproj.io/v1alpha1 WorkflowTemplate")
            }
            DeployError::Rejected { code, kind, name, message } => {
                write!(f, "the cluster rejected {kind} `{name}` ({code}): {message}")
            }
            DeployError::Conflict { kind, name, message, .. } => {
                write!(f, "{kind} `{name}` conflicts (409): {message}")
            }
            DeployError::Other(message) => f.write_str(message),
        }
    }
}

impl DeployError {
    pub(super) fn help(&self) -> String {
        match self {
            DeployError::NoConfig(_) => {
                "point KUBECONFIG at a kubeconfig (or create ~/.kube/config), or run inside a cluster".into()
            }
            DeployError::Unreachable { .. } => {
                "check the context (`--context`, `kubectl config current-context`), the VPN, and `kubectl cluster-info`".into()
            }
            DeployError::Unauthorized { .. } => {
                "the credentials expired or are wrong: log in again (e.g. `gcloud container clusters get-credentials`, `aws eks update-kubeconfig`) and retry".into()
            }
            DeployError::Forbidden { verb, resource, namespace, .. } => format!(
                "ask for a Role that grants `{verb}` on `{resource}` in `{namespace}` (`kubectl auth can-i {verb} {resource} -n {namespace}` tells)"
            ),
            DeployError::NamespaceMissing(ns) => {
                format!("create it (`kubectl create namespace {ns}`) or deploy elsewhere with `--namespace`")
            }
            DeployError::ArgoMissing { .. } => {
                "install Argo Workflows (https://argo-workflows.readthedocs.io/en/latest/installation/) or pick a cluster that has it with `--context`".into()
            }
            DeployError::Rejected { .. } => "fix what the server names; `pipe compile --target argo` writes the same objects to inspect".into(),
            DeployError::Conflict { verb, .. } if verb == "create" => {
                "every name pipe picked was taken: run `pipe deploy` again, or delete old workflows (`argo delete --older 7d`)".into()
            }
            DeployError::Conflict { .. } => {
                "another field manager owns these fields: change them with the tool that owns them, or delete the object".into()
            }
            DeployError::Other(_) => {
                "retry; if it persists, `kubectl get --raw /version` with the same context shows whether the API server is healthy".into()
            }
        }
    }
}

/// A connected client, its server's URL and the namespace to deploy into.
pub(super) struct Cluster {
    pub client: Client,
    pub url: String,
    pub namespace: String,
}

/// Connects the way kubectl does: KUBECONFIG or `~/.kube/config` (with `context`), else the
/// in-cluster service account. The namespace is `namespace`, else the context's, else `default`.
pub(super) async fn connect(context: Option<&str>, namespace: Option<&str>) -> Result<Cluster, DeployError> {
    let config = match Kubeconfig::read() {
        Ok(kubeconfig) => {
            let options = KubeConfigOptions { context: context.map(str::to_owned), ..Default::default() };
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| DeployError::NoConfig(e.to_string()))?
        }
        Err(read) => Config::incluster().map_err(|_| DeployError::NoConfig(read.to_string()))?,
    };
    let url = config.cluster_url.to_string();
    let namespace = namespace.map(str::to_owned).unwrap_or_else(|| config.default_namespace.clone());
    let client =
        Client::try_from(config).map_err(|e| DeployError::Unreachable { url: url.clone(), detail: e.to_string() })?;
    Ok(Cluster { client, url, namespace })
}

/// Argo's resources on a cluster.
pub(super) struct Argo {
    pub templates: ApiResource,
    pub workflows: ApiResource,
    /// Present wherever Argo's CRDs are installed whole (a scheduled or triggered pipeline needs it).
    pub cron: Option<ApiResource>,
}

impl Cluster {
    /// `err` from `verb`ing `resource`, as a [`DeployError`].
    pub(super) fn classify(&self, err: kube::Error, verb: &str, resource: &str, name: &str) -> DeployError {
        match err {
            kube::Error::Api(status) => match status.code {
                401 => DeployError::Unauthorized { url: self.url.clone() },
                403 => DeployError::Forbidden {
                    verb: verb.into(),
                    resource: resource.into(),
                    namespace: self.namespace.clone(),
                    message: status.message,
                },
                409 => DeployError::Conflict {
                    verb: verb.into(),
                    kind: resource.into(),
                    name: name.into(),
                    message: status.message,
                },
                code @ (400 | 422) => {
                    DeployError::Rejected { code, kind: resource.into(), name: name.into(), message: status.message }
                }
                404 if status.message.contains("namespaces") => DeployError::NamespaceMissing(self.namespace.clone()),
                code => DeployError::Other(format!("{verb} {resource} `{name}` failed ({code}): {}", status.message)),
            },
            kube::Error::HyperError(e) => DeployError::Unreachable { url: self.url.clone(), detail: e.to_string() },
            kube::Error::Service(e) => DeployError::Unreachable { url: self.url.clone(), detail: e.to_string() },
            other => DeployError::Other(format!("{verb} {resource} `{name}` failed: {other}")),
        }
    }

    /// Argo's resources, found by one discovery; [`DeployError::ArgoMissing`] when the cluster has
    /// no Argo.
    pub(super) async fn argo(&self) -> Result<Argo, DeployError> {
        let group = match kube::discovery::group(&self.client, "argoproj.io").await {
            Ok(g) => g,
            Err(kube::Error::Api(status)) if status.code == 404 => {
                return Err(DeployError::ArgoMissing { url: self.url.clone() });
            }
            Err(kube::Error::Discovery(_)) => return Err(DeployError::ArgoMissing { url: self.url.clone() }),
            Err(e) => return Err(self.classify(e, "discover", "apigroups", "argoproj.io")),
        };
        let find = |kind: &str| group.recommended_kind(kind).map(|(ar, _)| ar);
        match (find("WorkflowTemplate"), find("Workflow")) {
            (Some(templates), Some(workflows)) => Ok(Argo { templates, workflows, cron: find("CronWorkflow") }),
            _ => Err(DeployError::ArgoMissing { url: self.url.clone() }),
        }
    }

    /// Fails with [`DeployError::NamespaceMissing`] if the server says the namespace does not
    /// exist; says nothing when it cannot tell (credentials that may not read namespaces, or a
    /// server that does not serve them).
    pub(super) async fn check_namespace(&self) -> Result<(), DeployError> {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        match namespaces.get(&self.namespace).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status))
                if status.code == 404 && status.message.starts_with(&format!("namespaces \"{}\"", self.namespace)) =>
            {
                Err(DeployError::NamespaceMissing(self.namespace.clone()))
            }
            Err(kube::Error::Api(status)) if matches!(status.code, 403 | 404) => Ok(()),
            Err(e) => Err(self.classify(e, "get", "namespaces", &self.namespace)),
        }
    }

    /// The resource of a built-in kind (`ConfigMap`, `ServiceAccount`, `Role`, `RoleBinding`).
    pub(super) fn builtin<K: kube::Resource<DynamicType = ()>>(&self) -> ApiResource {
        ApiResource::erase::<K>(&())
    }

    fn api(&self, resource: &ApiResource) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.namespace, resource)
    }

    /// Server-side applies `object` (field manager `pipe`); gives the stored object.
    pub(super) async fn apply(
        &self,
        resource: &ApiResource,
        object: &Value,
        dry_run: bool,
    ) -> Result<DynamicObject, DeployError> {
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        let mut object = object.clone();
        object["metadata"]["namespace"] = Value::String(self.namespace.clone());
        let mut params = PatchParams::apply(FIELD_MANAGER);
        params.dry_run = dry_run;
        self.api(resource)
            .patch(&name, &params, &Patch::Apply(&object))
            .await
            .map_err(|e| self.classify(e, "patch", &resource.plural, &name))
    }

    /// Creates `object` (a Workflow with `generateName`) under a name pipe picks the way the API
    /// server would (`generateName` + 5 characters), so the name is known before it is stored;
    /// picks again if it is taken. Gives the stored object.
    pub(super) async fn create(
        &self,
        resource: &ApiResource,
        object: &Value,
        dry_run: bool,
    ) -> Result<DynamicObject, DeployError> {
        let mut object: DynamicObject =
            serde_json::from_value(object.clone()).map_err(|e| DeployError::Other(format!("not an object: {e}")))?;
        object.metadata.namespace = Some(self.namespace.clone());
        let prefix = object.metadata.generate_name.take().unwrap_or_default();
        let params = PostParams { dry_run, field_manager: Some(FIELD_MANAGER.into()) };
        let alphabet: Vec<char> = ('a'..='z').chain('0'..='9').collect();
        let mut attempt = 0;
        loop {
            let suffix: String = (0..5).map(|_| alphabet[fastrand::usize(..alphabet.len())]).collect();
            let name = format!("{prefix}{suffix}");
            object.metadata.name = Some(name.clone());
            match self.api(resource).create(&params, &object).await {
                Err(kube::Error::Api(status)) if status.code == 409 && attempt < 3 => attempt += 1,
                result => return result.map_err(|e| self.classify(e, "create", &resource.plural, &name)),
            }
        }
    }

    /// The Workflows API of the namespace.
    pub(super) fn workflows(&self, resource: &ApiResource) -> Api<DynamicObject> {
        self.api(resource)
    }
}
