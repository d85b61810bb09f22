//! Containers for tests, run the way a kubelet runs them but in `bubblewrap` sandboxes: the shim
//! image's root as `runtime/shim/Dockerfile` lays it out, a user image's root (this Debian host's
//! system, standing in for images such as `busybox` or `python:3.11-slim`), and a pod of init
//! containers and a main container sharing its volumes.
//!
//! Takes pod specs as JSON (as `argo_pod::build` gives them), the ConfigMaps and Secrets they may
//! name, and the static shim; gives each main container's stdout (Argo's `outputs.result`) or why
//! the pod failed. Reproduces, for what pipe's pods use: a root file system holding only the
//! image, every volume (`configMap`, `emptyDir`) mounted at its `mountPath`, read-only where the
//! mount says so, nothing else of this machine; init containers run to completion in order before
//! the main container; `env` values and `valueFrom.secretKeyRef`, `envFrom.secretRef` (a missing
//! Secret not marked optional fails the pod, as `CreateContainerConfigError` does); the pod's
//! `runAsUser`/`runAsGroup` (a container's own overriding), and `runAsNonRoot` refusing uid 0;
//! `workingDir`; the image's own `PATH`. Shares loopback with the host, so servers the tests start
//! on 127.0.0.1 answer.
//!
//! The kubelet's rules it follows, from kubernetes: `pkg/kubelet/kubelet_pods.go`
//! (`makeEnvironmentVariables`: `envFrom` first, then `env` overriding it; a Secret that is missing
//! and not `optional` fails the container), `pkg/kubelet/kuberuntime/kuberuntime_manager.go`
//! (`computePodActions`: init containers one at a time, each to success, before the others),
//! `pkg/volume/emptydir/empty_dir.go` (an `emptyDir` is created with mode 0777), and
//! `pkg/kubelet/kuberuntime/security_context_others.go` (`verifyRunAsNonRoot`).
//!
//! Does not: pull images, schedule, limit resources, isolate pods' networks from each other, apply
//! seccomp or capabilities (bubblewrap drops them all anyway), or run Argo's `wait` sidecar.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The static `pipe-shim` the shim image holds, built beside the `pipe` binary at `pipe`.
pub fn static_shim(pipe: &Path) -> PathBuf {
    let target = pipe.parent().and_then(Path::parent).expect("the target folder");
    let shim = target.join("x86_64-unknown-linux-gnu/release/pipe-shim");
    assert!(
        shim.is_file(),
        "{} is missing: build it with `RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release -p pipe-shim --target x86_64-unknown-linux-gnu` (scripts/test.sh does)",
        shim.display()
    );
    shim
}

/// `COPY --from=… SRC DST` lines of a Dockerfile's last stage, and its `USER`.
pub fn final_stage(dockerfile: &str) -> (Vec<(String, String)>, Option<String>) {
    let last = dockerfile.rsplit_once("\nFROM ").map_or(dockerfile, |(_, l)| l);
    let mut copies = Vec::new();
    let mut user = None;
    for line in last.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["COPY", from, src, dst] if from.starts_with("--from=") => copies.push(((*src).into(), (*dst).into())),
            ["USER", u] => user = Some((*u).into()),
            _ => {}
        }
    }
    (copies, user)
}

/// The shim image's root in `dir`, laid out from the final stage of `runtime/shim/Dockerfile`: the
/// static shim at `/pipe-shim`, every other file copied from this Debian host, as the Dockerfile's
/// Debian build stage gives it. `skip` leaves out the copies whose destination contains it.
pub fn shim_image_root(dir: &Path, pipe: &Path, skip: Option<&str>) -> PathBuf {
    let dockerfile = std::fs::read_to_string(crate::repo_root().join("runtime/shim/Dockerfile")).expect("Dockerfile");
    let (copies, _) = final_stage(&dockerfile);
    let root = dir.join("rootfs");
    for (src, dst) in copies {
        if skip.is_some_and(|s| dst.contains(s)) {
            continue;
        }
        let from = if dst == "/pipe-shim" { static_shim(pipe) } else { PathBuf::from(&src) };
        let to = root.join(dst.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("cannot copy {} for the image: {e}", from.display()));
    }
    root
}

/// Where a container's root comes from.
#[derive(Debug, Clone)]
pub enum Root {
    /// Exactly this folder's entries (an image's file system), read-only.
    Image(PathBuf),
    /// This host's system, read-only: what a stock user image (`busybox`, `python:3.11-slim`)
    /// stands for here.
    Host,
    /// This host's system with these executables added to `/usr/local/bin`: an image built
    /// `FROM` a stock one with, say, `pipe-shim` copied in (as TorchX needs, having no init
    /// containers).
    HostWith(Vec<PathBuf>),
}

/// The environment an image sets itself (`ENV` in its Dockerfile): a Debian-based image's `PATH`.
/// The shim image, built `FROM scratch`, sets none.
fn image_env(root: &Root) -> Vec<(String, String)> {
    match root {
        Root::Image(_) => Vec::new(),
        Root::Host | Root::HostWith(_) => {
            vec![("PATH".into(), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into())]
        }
    }
}

/// The arguments that make a sandbox's root: a tmpfs (so mount points can be made), then the
/// image's entries read-only on it.
fn root_args(root: &Root) -> Vec<String> {
    let mut args = vec!["--tmpfs".into(), "/".into()];
    match root {
        Root::Image(dir) => {
            for entry in std::fs::read_dir(dir).expect("an image root").filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                args.extend(["--ro-bind".into(), entry.path().display().to_string(), format!("/{name}")]);
            }
        }
        Root::Host | Root::HostWith(_) => {
            args.extend(["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"].map(String::from));
            for link in ["bin", "sbin", "lib", "lib64"] {
                if Path::new(&format!("/usr/{link}")).exists() {
                    args.extend(["--symlink".into(), format!("usr/{link}"), format!("/{link}")]);
                }
            }
            if let Root::HostWith(extra) = root {
                args.extend(["--tmpfs", "/usr/local/bin"].map(String::from));
                for file in extra {
                    let name = file.file_name().expect("a file name").to_string_lossy().into_owned();
                    args.extend(["--ro-bind".into(), file.display().to_string(), format!("/usr/local/bin/{name}")]);
                }
            }
        }
    }
    args.extend(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"].map(String::from));
    args
}

/// A node that runs pods: their volumes under `dir`, their images by name.
#[derive(Debug)]
pub struct Node {
    pub dir: PathBuf,
    /// Image name → root; any other image runs on [`Root::Host`].
    pub images: BTreeMap<String, Root>,
    /// Image name → what its `ENV` lines set beyond `PATH` (credentials baked into an image, or
    /// put there by the cluster's workload identity).
    pub image_env: BTreeMap<String, Vec<(String, String)>>,
    pub config_maps: BTreeMap<String, BTreeMap<String, String>>,
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
    pods: usize,
}

impl Node {
    pub fn new(dir: &Path) -> Node {
        Node {
            dir: dir.to_owned(),
            images: BTreeMap::new(),
            image_env: BTreeMap::new(),
            config_maps: BTreeMap::new(),
            secrets: BTreeMap::new(),
            pods: 0,
        }
    }

    /// Runs `pod` (a pod spec); gives the main container's stdout and stderr, or why the pod
    /// failed.
    pub fn run_pod(&mut self, pod: &Value) -> Result<(String, String), String> {
        self.pods += 1;
        let volumes_dir = self.dir.join(format!("pod-{}", self.pods));
        let mut volumes: BTreeMap<String, PathBuf> = BTreeMap::new();
        for v in pod["volumes"].as_array().into_iter().flatten() {
            let name = v["name"].as_str().unwrap_or_default();
            let path = volumes_dir.join(name);
            std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
            if let Some(cm) = v["configMap"]["name"].as_str() {
                let data = self.config_maps.get(cm).ok_or_else(|| format!("configmap \"{cm}\" not found"))?;
                for (file, text) in data {
                    std::fs::write(path.join(file), text).map_err(|e| e.to_string())?;
                }
            } else if v.get("emptyDir").is_some() {
                // An emptyDir is writable by every user of the pod.
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).map_err(|e| e.to_string())?;
            } else {
                return Err(format!("volume `{name}`: only configMap and emptyDir volumes are modelled"));
            }
            volumes.insert(name.to_owned(), path);
        }
        for c in pod["initContainers"].as_array().into_iter().flatten() {
            self.run_container(pod, c, &volumes)?;
        }
        self.run_container(pod, &pod["containers"][0], &volumes)
    }

    fn run_container(
        &self,
        pod: &Value,
        c: &Value,
        volumes: &BTreeMap<String, PathBuf>,
    ) -> Result<(String, String), String> {
        let name = c["name"].as_str().unwrap_or_default();
        let image = c["image"].as_str().unwrap_or_default();
        let root = self.images.get(image).cloned().unwrap_or(Root::Host);
        let security = |field: &str| c["securityContext"][field].as_i64().or(pod["securityContext"][field].as_i64());
        let uid = security("runAsUser").unwrap_or(0);
        let gid = security("runAsGroup").unwrap_or(0);
        let non_root =
            c["securityContext"]["runAsNonRoot"].as_bool().or(pod["securityContext"]["runAsNonRoot"].as_bool());
        if non_root == Some(true) && uid == 0 {
            return Err(format!("container {name}: runAsNonRoot and the user is root"));
        }
        let mut env: Vec<(String, String)> = image_env(&root);
        env.extend(self.image_env.get(image).into_iter().flatten().cloned());
        for from in c["envFrom"].as_array().into_iter().flatten() {
            let secret = from["secretRef"]["name"].as_str().unwrap_or_default();
            match self.secrets.get(secret) {
                Some(data) => env.extend(data.iter().map(|(k, v)| (k.clone(), v.clone()))),
                None if from["secretRef"]["optional"] == Value::Bool(true) => {}
                None => {
                    return Err(format!("container {name}: CreateContainerConfigError: secret \"{secret}\" not found"));
                }
            }
        }
        for e in c["env"].as_array().into_iter().flatten() {
            let key = e["name"].as_str().unwrap_or_default().to_owned();
            let value = match (&e["value"], &e["valueFrom"]["secretKeyRef"]) {
                (Value::String(v), _) => v.clone(),
                (_, Value::Object(r)) => {
                    let (secret, k) = (r["name"].as_str().unwrap_or_default(), r["key"].as_str().unwrap_or_default());
                    self.secrets.get(secret).and_then(|d| d.get(k)).cloned().ok_or_else(|| {
                        format!("container {name}: CreateContainerConfigError: secret \"{secret}\" has no key \"{k}\"")
                    })?
                }
                _ => String::new(),
            };
            env.push((key, value));
        }
        let mut cmd = Command::new("bwrap");
        cmd.args(root_args(&root));
        cmd.args(["--unshare-all", "--share-net", "--die-with-parent", "--clearenv"]);
        cmd.args(["--uid", &uid.to_string(), "--gid", &gid.to_string()]);
        for m in c["volumeMounts"].as_array().into_iter().flatten() {
            let vol = m["name"].as_str().unwrap_or_default();
            let path = volumes.get(vol).ok_or_else(|| format!("container {name}: volume `{vol}` is not in the pod"))?;
            let bind = if m["readOnly"] == Value::Bool(true) { "--ro-bind" } else { "--bind" };
            cmd.arg(bind).arg(path).arg(m["mountPath"].as_str().unwrap_or_default());
        }
        for (k, v) in &env {
            cmd.args(["--setenv", k, v]);
        }
        cmd.args(["--chdir", c["workingDir"].as_str().unwrap_or("/")]);
        let argv: Vec<&str> = c["command"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(c["args"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        if argv.is_empty() {
            return Err(format!("container {name}: no command (images' entrypoints are not modelled)"));
        }
        cmd.arg("--").args(&argv);
        let out = cmd.output().map_err(|e| format!("cannot run `bwrap` ({e}): install Debian's bubblewrap"))?;
        if !out.status.success() {
            return Err(format!(
                "container {name} ({image}) failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok((String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned()))
    }
}
