//! The shim image as a cluster would run it: a root holding exactly what `runtime/shim/Dockerfile`
//! copies into its final stage (the static `pipe-shim` and whatever else it lists, taken from this
//! Debian host, as the Dockerfile's Debian build stage would give them), run in a `bubblewrap`
//! sandbox as uid 65532 with nothing else mounted, against the S3 server the tests start on
//! loopback. A `FROM scratch` image with only the binary could not build an HTTP client at all
//! ("No CA certificates were loaded from the system"), even for a plain-HTTP store.
//!
//! Needs `bwrap` (Debian's bubblewrap) and the static shim, both of which scripts/test.sh
//! provides; a missing one fails the test with what to do.

use pipe_tests::sandbox::{final_stage, shim_image_root};
use pipe_tests::servers::Moto;
use pipe_tests::{repo_root, write_file};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The image's root, from its Dockerfile, plus the mount points a container runtime would make.
fn image_root(dir: &Path, skip: Option<&str>) -> PathBuf {
    let dockerfile = std::fs::read_to_string(repo_root().join("runtime/shim/Dockerfile")).expect("Dockerfile");
    let (copies, user) = final_stage(&dockerfile);
    assert_eq!(user.as_deref(), Some("65532:65532"), "the image runs as the non-root user pods use");
    assert!(copies.iter().any(|(_, dst)| dst == "/pipe-shim"), "the image holds the shim at /pipe-shim: {copies:?}");
    let root = shim_image_root(dir, Path::new(env!("CARGO_BIN_EXE_pipe")), skip);
    for dir in ["tmp", "proc", "dev"] {
        std::fs::create_dir_all(root.join(dir)).expect("mkdir");
    }
    std::fs::write(root.join("spec.json"), b"").expect("a mount point for the spec");
    root
}

/// `pipe-shim ARGS` inside the image: its root read-only, a private /tmp, uid and gid 65532, no
/// other file of this machine visible; loopback shared, so the store on 127.0.0.1 answers.
fn in_image(root: &Path, spec: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    let mut c = Command::new("bwrap");
    c.arg("--ro-bind").arg(root).arg("/");
    c.args(["--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev", "--unshare-all", "--share-net"]);
    c.args(["--uid", "65532", "--gid", "65532", "--clearenv", "--die-with-parent"]);
    c.arg("--ro-bind").arg(spec).arg("/spec.json");
    for (k, v) in env {
        c.args(["--setenv", k, v]);
    }
    c.arg("/pipe-shim").args(args);
    c.output()
        .unwrap_or_else(|e| panic!("cannot run `bwrap` ({e}): install Debian's bubblewrap (scripts/test.sh does)"))
}

#[test]
fn the_shim_image_reaches_an_s3_store_as_its_dockerfile_builds_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root_dir = tmp.path();
    let moto = Moto::start("image");
    let store = moto.url("team");
    let pipe = |args: &[&str]| moto.pipe(Path::new(env!("CARGO_BIN_EXE_pipe")), root_dir, args);
    write_file(root_dir, "data/a.txt", b"alpha\n");
    write_file(root_dir, "data/b.txt", b"beta\n");
    pipe(&["data", "init", "letters", "--store", &store]);
    pipe(&["data", "put", "letters", "data", "--store", &store]);
    let text = "input letters = repo(\"letters\")\n\nstage upper {\n  image   = \"busybox\"\n  datums  = glob(letters, \"/*\")\n  command = [\"sh\", \"-c\", \"tr a-z A-Z < $PIPE_IN_LETTERS/* > $PIPE_OUT/x\"]\n}\n";
    write_file(root_dir, "pipeline.pipe", text.as_bytes());
    pipe(&["compile", "pipeline.pipe", "--target", "spec", "-o", "spec", "--store", &store]);
    let spec = root_dir.join("spec/upper.json");

    let mut env = moto.env();
    env.push(("PIPE_STORE".into(), store.clone()));
    env.push(("PIPE_RUN".into(), "run-1".into()));
    let root = image_root(root_dir, None);
    let plan = in_image(&root, &spec, &env, &["--spec", "/spec.json", "plan"]);
    let stderr = String::from_utf8_lossy(&plan.stderr);
    assert!(plan.status.success(), "the shim image could not plan against S3:\n{stderr}");
    let items: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("a JSON list of shards");
    assert_eq!(items.as_array().map(Vec::len), Some(2), "two datums, two shards: {items}");

    // Without the CA bundle, as `FROM scratch` with only the binary was: no HTTP client at all.
    let bare = image_root(&root_dir.join("bare"), Some("/etc/ssl"));
    let failed = in_image(&bare, &spec, &env, &["--spec", "/spec.json", "plan"]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "the shim needs the CA bundle the Dockerfile copies");
    assert!(stderr.contains("No CA certificates"), "{stderr}");
    assert!(stderr.contains("help: this machine (or image) has no CA certificates"), "says what to do:\n{stderr}");
}

#[test]
fn the_final_stage_parser_reads_copies_and_user() {
    let text = "FROM rust AS build\nCOPY . .\nRUN x\n\nFROM scratch\nCOPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\nCOPY --from=build /src/t/pipe-shim /pipe-shim\nUSER 65532:65532\n";
    let (copies, user) = final_stage(text);
    assert_eq!(copies.len(), 2);
    assert_eq!(copies[1].1, "/pipe-shim");
    assert_eq!(user.as_deref(), Some("65532:65532"));
}
