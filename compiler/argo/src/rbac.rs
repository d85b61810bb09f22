//! The ServiceAccount a pipeline's pods run as, and the least Role it needs, bound to it.
//!
//! Takes the pipeline and the options; gives the three objects. The Role grants exactly the calls
//! pods of a pipe workflow make to the API server:
//! - `create` and `patch` on `workflowtaskresults` (argoproj.io): Argo ≥ 3.4's executor reports
//!   each step's outputs that way, `outputs.result` among them, which is how a plan's shards reach
//!   `withParam` (Argo's `docs/workflow-rbac.md`);
//! - for a pipeline with `torchx.ddp` stages, `create`, `get`, `list` and `delete` on `jobs`
//!   (batch.volcano.sh): a resource template creates the Job (`kubectl create`), polls it for its
//!   success and failure conditions (`checkResourceState` in Argo's `workflow/executor/resource.go`
//!   reads the object), and the exit handler of a stopped or failed run deletes the workflow's
//!   Jobs by label (`kubectl delete --selector`, which lists them first).
//!
//! Nothing on pods, secrets or configmaps: the shim reads its spec from a mounted volume and the
//! store's credentials from the environment. Does not create the store Secret.

use crate::Options;
use crate::names::fit;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pipe_core::ir::Pipeline;

/// The service account pods run as: the pipeline's `service_account`, or `<pipeline>-pipe`.
pub fn account_name(p: &Pipeline) -> String {
    p.service_account.clone().unwrap_or_else(|| fit(&format!("{}-pipe", p.name), 63))
}

/// The ServiceAccount, the Role and the RoleBinding; `meta` gives each its metadata from a name.
pub fn objects(
    p: &Pipeline,
    opts: &Options,
    ddp: bool,
    meta: impl Fn(String) -> ObjectMeta,
) -> (ServiceAccount, Role, RoleBinding) {
    let account = opts.service_account.clone().unwrap_or_else(|| account_name(p));
    let role_name = fit(&format!("{}-pipe", p.name), 63);
    let rule = |group: &str, resource: &str, verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![group.into()]),
        resources: Some(vec![resource.into()]),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..Default::default()
    };
    let mut rules = vec![rule("argoproj.io", "workflowtaskresults", &["create", "patch"])];
    if ddp {
        rules.push(rule("batch.volcano.sh", "jobs", &["create", "get", "list", "delete"]));
    }
    let service_account = ServiceAccount { metadata: meta(account.clone()), ..Default::default() };
    let role = Role { metadata: meta(role_name.clone()), rules: Some(rules) };
    let binding = RoleBinding {
        metadata: meta(role_name.clone()),
        role_ref: RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: "Role".into(), name: role_name },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: account,
            namespace: p.namespace.clone(),
            ..Default::default()
        }]),
    };
    (service_account, role, binding)
}
