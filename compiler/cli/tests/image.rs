//! The shim image as a cluster would run it: a root holding exactly what `runtime/shim/Dockerfile`
//! copies into its final stage (the static `pipe-shim` and whatever else it lists, taken from this
//! Debian host, as the Dockerfile's Debian build stage would give them), run as a kubelet would
//! (`pipe_tests::sandbox`: bubblewrap, uid 65532, nothing but its volumes mounted) against the S3
//! server the tests start on loopback. A `FROM scratch` image with only the binary could not build an HTTP client at all
//! ("No CA certificates were loaded from the system"), even for a plain-HTTP store.
//!
//! Needs `bwrap` (Debian's bubblewrap) and the static shim, both of which scripts/test.sh
//! provides; a missing one fails the test with what to do.

use pipe_tests::sandbox::{Node, Root, final_stage, shim_image_root};
use pipe_tests::servers::Moto;
use pipe_tests::{repo_root, write_file};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The image's root, from its Dockerfile.
fn image_root(dir: &Path, skip: Option<&str>) -> PathBuf {
    let dockerfile = std::fs::read_to_string(repo_root().join("runtime/shim/Dockerfile")).expect("Dockerfile");
    let (copies, user) = final_stage(&dockerfile);
    assert_eq!(user.as_deref(), Some("65532:65532"), "the image runs as the non-root user pods use");
    assert!(copies.iter().any(|(_, dst)| dst == "/pipe-shim"), "the image holds the shim at /pipe-shim: {copies:?}");
    shim_image_root(dir, Path::new(env!("CARGO_BIN_EXE_pipe")), skip)
}

/// `pipe-shim --spec … plan` in a pod of one container of the image rooted at `root`, run as a
/// kubelet would (`pipe_tests::sandbox`): the spec from a ConfigMap volume, `env`, uid 65532.
fn plan_in_image(root: PathBuf, spec: &str, env: &[(String, String)]) -> Result<(String, String), String> {
    let dir = root.parent().expect("a folder").join("node");
    let mut node = Node::new(&dir);
    node.images.insert("pipe-shim".into(), Root::Image(root));
    node.config_maps.insert("specs".into(), [("upper.json".to_owned(), spec.to_owned())].into());
    let env: Vec<Value> = env.iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
    node.run_pod(&json!({
        "securityContext": {"runAsUser": 65532, "runAsGroup": 65532, "runAsNonRoot": true},
        "volumes": [{"name": "spec", "configMap": {"name": "specs"}}],
        "containers": [{
            "name": "main",
            "image": "pipe-shim",
            "command": ["/pipe-shim", "--spec", "/pipe/spec/upper.json", "plan"],
            "env": env,
            "volumeMounts": [{"name": "spec", "mountPath": "/pipe/spec", "readOnly": true}],
        }],
    }))
}

/// A repo `letters` of two files on `moto`'s S3 and a one-stage pipeline over it, compiled to stage
/// specs in `dir/spec` (pinned); gives the store's URL.
fn two_letters_on_s3(moto: &Moto, dir: &Path) -> String {
    let store = moto.url("team");
    let pipe = |args: &[&str]| moto.pipe(Path::new(env!("CARGO_BIN_EXE_pipe")), dir, args);
    write_file(dir, "data/a.txt", b"alpha\n");
    write_file(dir, "data/b.txt", b"beta\n");
    pipe(&["data", "init", "letters", "--store", &store]);
    pipe(&["data", "put", "letters", "data", "--store", &store]);
    let text = "input letters = repo(\"letters\")\n\nstage upper {\n  image   = \"busybox\"\n  datums  = glob(letters, \"/*\")\n  command = [\"sh\", \"-c\", \"tr a-z A-Z < $PIPE_IN_LETTERS/* > $PIPE_OUT/x\"]\n}\n";
    write_file(dir, "pipeline.pipe", text.as_bytes());
    pipe(&["compile", "pipeline.pipe", "--target", "spec", "-o", "spec", "--store", &store]);
    store
}

#[test]
fn the_shim_image_reaches_an_s3_store_as_its_dockerfile_builds_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root_dir = tmp.path();
    let moto = Moto::start("image");
    let store = two_letters_on_s3(&moto, root_dir);
    let spec = std::fs::read_to_string(root_dir.join("spec/upper.json")).expect("the spec");

    let mut env = moto.env();
    env.push(("PIPE_STORE".into(), store.clone()));
    env.push(("PIPE_RUN".into(), "run-1".into()));
    let plan = plan_in_image(image_root(&root_dir.join("image"), None), &spec, &env);
    let (stdout, _) = plan.unwrap_or_else(|e| panic!("the shim image could not plan against S3:\n{e}"));
    let items: Value = serde_json::from_str(&stdout).expect("a JSON list of shards");
    assert_eq!(items.as_array().map(Vec::len), Some(2), "two datums, two shards: {items}");

    // Without the CA bundle, as `FROM scratch` with only the binary was: no HTTP client at all.
    let failed = plan_in_image(image_root(&root_dir.join("bare"), Some("/etc/ssl")), &spec, &env);
    let stderr = failed.expect_err("the shim needs the CA bundle the Dockerfile copies");
    assert!(stderr.contains("No CA certificates"), "{stderr}");
    assert!(stderr.contains("help: this machine (or image) has no CA certificates"), "says what to do:\n{stderr}");
}

/// The arm64 shim (cross-compiled by scripts/test.sh as the Dockerfile does for `linux/arm64`),
/// run under qemu's user-mode emulation: it plans against S3 as the amd64 one does.
#[test]
fn the_arm64_shim_plans_against_s3() {
    let target = Path::new(env!("CARGO_BIN_EXE_pipe")).parent().and_then(Path::parent).expect("target folder");
    let shim = target.join("aarch64-unknown-linux-gnu/release/pipe-shim");
    let build = "`scripts/test.sh` builds it (apt: gcc-aarch64-linux-gnu qemu-user; rustup target add aarch64-unknown-linux-gnu)";
    assert!(shim.is_file(), "{} is missing: {build}", shim.display());
    let qemu = std::process::Command::new("qemu-aarch64").arg("--version").output();
    assert!(qemu.is_ok_and(|o| o.status.success()), "qemu-aarch64 is missing: {build}");
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let moto = Moto::start("arm64");
    let store = two_letters_on_s3(&moto, dir);
    let out = std::process::Command::new("qemu-aarch64")
        .arg(&shim)
        .args(["--spec", "spec/upper.json", "plan"])
        .current_dir(dir)
        .env_clear()
        .envs(moto.env())
        .env("PIPE_STORE", &store)
        .env("PIPE_RUN", "run-arm64")
        .output()
        .expect("qemu-aarch64 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the arm64 shim failed: {}", String::from_utf8_lossy(&out.stderr));
    let items: Value = serde_json::from_str(&stdout).expect("a JSON list of shards");
    assert_eq!(items.as_array().map(Vec::len), Some(2), "two datums, two shards: {items}");
}

#[test]
fn the_final_stage_parser_reads_copies_and_user() {
    let text = "FROM rust AS build\nCOPY . .\nRUN x\n\nFROM scratch\nCOPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\nCOPY --from=build /src/t/pipe-shim /pipe-shim\nUSER 65532:65532\n";
    let (copies, user) = final_stage(text);
    assert_eq!(copies.len(), 2);
    assert_eq!(copies[1].1, "/pipe-shim");
    assert_eq!(user.as_deref(), Some("65532:65532"));
}
