//! The Argo Workflows objects pipe emits, as serde types: the subset of `argoproj.io/v1alpha1`
//! that pipe writes, with Argo's field names. Pod-level parts (containers, volumes, tolerations,
//! security contexts) are `k8s-openapi` types, so they are exactly Kubernetes' own.
//!
//! Takes nothing; gives types that serialise. Not deserialised: pipe writes these, Argo reads
//! them. Absent options are left out, never written as `null`.

use k8s_openapi::api::core::v1::{Container, PodSecurityContext, Toleration, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use std::collections::BTreeMap;

pub const API_VERSION: &str = "argoproj.io/v1alpha1";

/// A `WorkflowTemplate`, `Workflow` or `CronWorkflow`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<S> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: S,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_template_ref: Option<TemplateRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Arguments>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,
    #[serde(rename = "podGC", skip_serializing_if = "Option::is_none")]
    pub pod_gc: Option<PodGc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_strategy: Option<TtlStrategy>,
    /// The template run when the workflow ends, however it ends (`argo stop` included; `argo
    /// terminate` skips it, as Argo's shutdown strategies say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_exit: Option<String>,
    /// JSON merged into every pod Argo creates for the workflow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_spec_patch: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<Template>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TemplateRef {
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CronWorkflowSpec {
    pub schedules: Vec<String>,
    pub concurrency_policy: &'static str,
    /// A tick that could not start within this many seconds is skipped, not made up later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<u64>,
    pub workflow_spec: WorkflowSpec,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Arguments {
    pub parameters: Vec<Parameter>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Inputs {
    pub parameters: Vec<Parameter>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Parameter {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(rename = "enum", skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PodGc {
    pub strategy: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TtlStrategy {
    pub seconds_after_success: i32,
    pub seconds_after_failure: i32,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Inputs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dag: Option<Dag>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Container>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_strategy: Option<RetryStrategy>,
    /// A strategic-merge patch of the pod spec, as JSON text in which Argo fills in `{{…}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_spec_patch: Option<String>,
    /// Seconds, or a `{{…}}` expression; Argo reads either.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dag {
    pub tasks: Vec<DagTask>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DagTask {
    pub name: String,
    pub template: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depends: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Arguments>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub action: &'static str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub set_owner_reference: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_condition: Option<String>,
    /// Arguments Argo's executor passes to `kubectl ACTION` before `-f MANIFEST`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// The object, as YAML text (Argo substitutes `{{…}}` in it first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryStrategy {
    /// A count; Argo accepts an int or a string.
    pub limit: String,
    pub retry_policy: &'static str,
}

/// A name/value pair of a template's arguments.
pub fn parameter(name: &str, value: impl Into<String>) -> Parameter {
    Parameter { name: name.to_owned(), value: Some(value.into()), ..Parameter::default() }
}
