//! `pipe deploy FILE` and `pipe status NAME`: the Argo objects of a pipeline applied to a cluster
//! and a Workflow submitted, then (with `--watch`) followed to the end.
//!
//! Takes the same inputs as `pipe compile --target argo` plus where to deploy (`--context`,
//! `--namespace`); checks by discovery that Argo's CRDs are there, applies the ServiceAccount,
//! Role and RoleBinding the pods need, the ConfigMap of stage specs and the WorkflowTemplate by
//! server-side apply (field manager `pipe`, so deploying an
//! unchanged pipeline changes nothing), and a scheduled or triggered pipeline's CronWorkflow;
//! creates a Workflow (a triggered pipeline's first check) and prints its name. Exit codes: 0 done
//! (or, watching, succeeded), 1 failed, 2 usage.

mod cluster;
mod watch;

use super::compile::{BuildArgs, Target, build};
use crate::report::{self, Failure, Outcome, Threads};
use cluster::{Cluster, DeployError};

#[derive(Debug, clap::Args)]
pub(crate) struct DeployArgs {
    #[command(flatten)]
    build: BuildArgs,
    /// The namespace [default: the pipeline's `namespace`, else the context's].
    #[arg(short, long)]
    namespace: Option<String>,
    /// The kubeconfig context [default: the current one].
    #[arg(long)]
    context: Option<String>,
    /// Follow the workflow to its end; exit 0 if it succeeded, 1 if not.
    #[arg(long)]
    watch: bool,
    /// Send everything with `dryRun=All`: the server checks it and stores nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// The workflow's name, as `pipe deploy` printed it; without one, every workflow pipe
    /// submitted in the namespace (by label), newest first.
    name: Option<String>,
    #[arg(short, long)]
    namespace: Option<String>,
    #[arg(long)]
    context: Option<String>,
}

impl From<DeployError> for Failure {
    fn from(e: DeployError) -> Failure {
        let help = e.help();
        Failure::with_help(e, help)
    }
}

pub(crate) fn run(args: DeployArgs) -> Outcome {
    let built = build(&args.build, Target::Argo)?;
    let object = |file: &str| built.iter().find(|b| b.file == file).and_then(|b| b.object.clone());
    let files = ["service-account.yaml", "role.yaml", "role-binding.yaml", "configmap.yaml", "workflow-template.yaml"];
    let (Some(applied), Some(workflow)) =
        (files.iter().map(|f| object(f)).collect::<Option<Vec<_>>>(), object("workflow.yaml"))
    else {
        return Err(
            DeployError::Other(format!("the Argo target did not give all of {files:?} and workflow.yaml")).into()
        );
    };
    let template = &applied[4];
    let cron = object("cron-workflow.yaml");
    let namespace = args.namespace.clone().or_else(|| template["metadata"]["namespace"].as_str().map(str::to_owned));
    report::runtime(Threads::One)?.block_on(async {
        let cluster = cluster::connect(args.context.as_deref(), namespace.as_deref()).await?;
        deploy(&cluster, &applied, cron.as_ref(), &workflow, &args).await
    })
}

/// Applies `applied` (the ServiceAccount, Role, RoleBinding, ConfigMap and WorkflowTemplate, in
/// that order: the account and its rights exist before anything runs as it), then submits
/// `workflow`; `cron`, the CronWorkflow of a scheduled or triggered pipeline, is applied last of
/// all, once the template its ticks submit exists.
async fn deploy(
    cluster: &Cluster,
    applied: &[serde_json::Value],
    cron: Option<&serde_json::Value>,
    workflow: &serde_json::Value,
    args: &DeployArgs,
) -> Outcome {
    use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let argo = cluster.argo().await?;
    let (templates, workflows) = (argo.templates, argo.workflows);
    cluster.check_namespace().await?;
    let dry = if args.dry_run { " (dry run)" } else { "" };
    let resources = [
        cluster.builtin::<ServiceAccount>(),
        cluster.builtin::<Role>(),
        cluster.builtin::<RoleBinding>(),
        cluster.builtin::<ConfigMap>(),
        templates,
    ];
    for (resource, object) in resources.iter().zip(applied) {
        let stored = cluster.apply(resource, object, args.dry_run).await?;
        eprintln!(
            "applied {} {}/{} at version {}{dry}",
            resource.kind,
            cluster.namespace,
            stored.metadata.name.unwrap_or_default(),
            stored.metadata.resource_version.unwrap_or_default()
        );
    }
    if let Some(cron) = cron {
        let resource = argo.cron.ok_or_else(|| DeployError::ArgoMissing { url: cluster.url.clone() })?;
        let stored = cluster.apply(&resource, cron, args.dry_run).await?;
        eprintln!(
            "applied CronWorkflow {}/{} at version {}{dry}",
            cluster.namespace,
            stored.metadata.name.unwrap_or_default(),
            stored.metadata.resource_version.unwrap_or_default()
        );
    }
    let created = cluster.create(&workflows, workflow, args.dry_run).await?;
    let name = created.metadata.name.clone().unwrap_or_default();
    eprintln!("submitted Workflow {}/{name}{dry}", cluster.namespace);
    println!("{name}");
    if !args.watch || args.dry_run {
        return Ok(());
    }
    let view = watch::follow(cluster, &cluster.workflows(&workflows), &name).await?;
    watch::outcome(&name, &view)
}

pub(crate) fn status(args: StatusArgs) -> Outcome {
    report::runtime(Threads::One)?.block_on(async {
        let run = async {
            let cluster = cluster::connect(args.context.as_deref(), args.namespace.as_deref()).await?;
            let workflows = cluster.argo().await?.workflows;
            let api = cluster.workflows(&workflows);
            let Some(name) = &args.name else {
                let selector = "app.kubernetes.io/managed-by=pipe";
                let list = api
                    .list(&kube::api::ListParams::default().labels(selector))
                    .await
                    .map_err(|e| cluster.classify(e, "list", "workflows", selector))?;
                let mut items: Vec<_> = list.items.iter().collect();
                items.sort_by(|a, b| b.metadata.creation_timestamp.cmp(&a.metadata.creation_timestamp));
                for w in &items {
                    let view = watch::View::of(w);
                    let pipeline = w.metadata.labels.as_ref().and_then(|l| l.get("app.kubernetes.io/name")).cloned();
                    let trigger = view.trigger_line().map(|t| format!("  {t}")).unwrap_or_default();
                    println!(
                        "{:<40} {:<10} {}{trigger}",
                        w.metadata.name.clone().unwrap_or_default(),
                        view.phase,
                        pipeline.unwrap_or_default()
                    );
                }
                if items.is_empty() {
                    eprintln!("no workflows of pipe's in namespace `{}`", cluster.namespace);
                }
                return Ok(());
            };
            let workflow = api.get(name).await.map_err(|e| cluster.classify(e, "get", "workflows", name))?;
            let view = watch::View::of(&workflow);
            view.print(name, None);
            if view.finished() { watch::outcome(name, &view) } else { Ok(()) }
        };
        run.await
    })
}
