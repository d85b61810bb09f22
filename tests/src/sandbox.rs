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
//! `workingDir`; the image's own `PATH`; `readOnlyRootFilesystem` (no writable `/tmp` then); `valueFrom.configMapKeyRef`; the pod's hostname and the
//! `/etc/hosts` the kubelet writes (the pod's own address for its hostname, and here for
//! `localhost` too, since each pod has a loopback address of its own in `127.0.0.0/8`: two
//! pods may listen on the same port), plus the names the cluster's DNS would resolve
//! ([`Identity::peers`]). Shares loopback with the host, so servers the tests start on 127.0.0.1
//! answer.
//!
//! The kubelet's rules it follows, from kubernetes: `pkg/kubelet/kubelet_pods.go`
//! (`makeEnvironmentVariables`: `envFrom` first, then `env` overriding it; a Secret that is missing
//! and not `optional` fails the container), `pkg/kubelet/kuberuntime/kuberuntime_manager.go`
//! (`computePodActions`: init containers one at a time, each to success, before the others),
//! `pkg/volume/emptydir/empty_dir.go` (an `emptyDir` is created with mode 0777), and
//! `pkg/kubelet/kuberuntime/security_context_others.go` (`verifyRunAsNonRoot`), and
//! `pkg/kubelet/kubelet_pods.go` (`makeHostsMount`, `ensureHostsFile`: the pod's hosts file, its
//! hostname beside its IP).
//!
//! Does not: pull images, schedule, limit resources, isolate pods' networks from each other, apply
//! seccomp or capabilities (bubblewrap drops them all anyway), or run Argo's `wait` sidecar.

use serde_json::Value;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// What the containers of one pod share while it runs.
struct PodContext<'a> {
    pod: &'a Value,
    who: &'a Identity,
    hosts: &'a Path,
    started: &'a (dyn Fn(u32) + Sync),
}

/// The static `pipe-shim` the shim image holds, built beside the `pipe` binary at `pipe`.
pub fn static_shim(pipe: &Path) -> PathBuf {
    let target = pipe.parent().and_then(Path::parent).expect("the target folder");
    let shim = target.join("x86_64-unknown-linux-gnu/release/pipe-shim");
    assert!(
        shim.is_file(),
        "{} is missing: build it with `RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release -p pipe-shim --target x86_64-unknown-linux-gnu` (scripts/test.sh does)",
        shim.display()
    );
    // A shim built before the runtime's sources last changed tests old code, and passes or fails
    // for reasons nobody can see.
    let built = std::fs::metadata(&shim).and_then(|m| m.modified()).expect("the shim's mtime");
    if let Some(newer) = newest_source(&crate::repo_root().join("runtime")).filter(|(t, _)| *t > built) {
        panic!(
            "{} is older than {}: rebuild it with `RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release -p pipe-shim --target x86_64-unknown-linux-gnu` (scripts/test.sh does)",
            shim.display(),
            newer.1.display()
        );
    }
    shim
}

/// The most recently changed `.rs` or `Cargo.toml` file under `dir` (not under `tests/` or
/// `benches/`), with its mtime.
fn newest_source(dir: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                // Tests and benches are not in the binary: cargo does not relink it for them.
                if !path.ends_with("tests") && !path.ends_with("benches") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") || path.ends_with("Cargo.toml") {
                let modified = entry.metadata().and_then(|m| m.modified()).ok();
                if let Some(t) = modified.filter(|t| newest.as_ref().is_none_or(|(n, _)| t > n)) {
                    newest = Some((t, path));
                }
            }
        }
    }
    newest
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
    /// stands for here, with `python` for `python3` as the Python images have it.
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
/// image's entries read-only on it. A host root gets `hosts` as its `/etc/hosts`.
fn root_args(root: &Root, hosts: &Path) -> Vec<String> {
    let mut args = vec!["--tmpfs".into(), "/".into()];
    match root {
        Root::Image(dir) => {
            for entry in std::fs::read_dir(dir).expect("an image root").filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                args.extend(["--ro-bind".into(), entry.path().display().to_string(), format!("/{name}")]);
            }
        }
        Root::Host | Root::HostWith(_) => {
            args.extend(["--ro-bind", "/usr", "/usr", "--tmpfs", "/etc"].map(String::from));
            // `/etc` entry by entry, so that the pod's own hosts file and mounts under `/etc`
            // (Volcano's `/etc/volcano`) can go in.
            for entry in std::fs::read_dir("/etc").expect("/etc").filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                if ["hosts", "hostname"].contains(&name.as_str()) {
                    continue;
                }
                let path = entry.path();
                match std::fs::read_link(&path) {
                    Ok(target) => {
                        args.extend(["--symlink".into(), target.display().to_string(), format!("/etc/{name}")])
                    }
                    Err(_) => args.extend(["--ro-bind".into(), path.display().to_string(), format!("/etc/{name}")]),
                }
            }
            args.extend(["--ro-bind".into(), hosts.display().to_string(), "/etc/hosts".into()]);
            for link in ["bin", "sbin", "lib", "lib64"] {
                if Path::new(&format!("/usr/{link}")).exists() {
                    args.extend(["--symlink".into(), format!("usr/{link}"), format!("/{link}")]);
                }
            }
            args.extend(
                ["--tmpfs", "/usr/local/bin", "--symlink", "/usr/bin/python3", "/usr/local/bin/python"]
                    .map(String::from),
            );
            if let Root::HostWith(extra) = root {
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

/// Who a pod is on the network, and what of the cluster it sees beyond the node's own objects.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The pod's hostname: its name, unless its spec names one.
    pub hostname: String,
    /// The pod's own loopback address.
    pub address: Ipv4Addr,
    /// The names the cluster's DNS resolves for it (a headless service's pods), with addresses.
    pub peers: BTreeMap<String, Ipv4Addr>,
    /// ConfigMaps made for this pod's kind (Volcano's `<job>-svc`), by name.
    pub config_maps: BTreeMap<String, BTreeMap<String, String>>,
}

impl Default for Identity {
    fn default() -> Identity {
        Identity {
            hostname: "pod".into(),
            address: Ipv4Addr::LOCALHOST,
            peers: BTreeMap::new(),
            config_maps: BTreeMap::new(),
        }
    }
}

impl Identity {
    fn config_map<'a>(&'a self, node: &'a Node, name: &str) -> Option<&'a BTreeMap<String, String>> {
        self.config_maps.get(name).or_else(|| node.config_maps.get(name))
    }
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
    pods: AtomicUsize,
}

impl Node {
    pub fn new(dir: &Path) -> Node {
        Node {
            dir: dir.to_owned(),
            images: BTreeMap::new(),
            image_env: BTreeMap::new(),
            config_maps: BTreeMap::new(),
            secrets: BTreeMap::new(),
            pods: AtomicUsize::new(0),
        }
    }

    /// Runs `pod` (a pod spec); gives the main container's stdout and stderr, or why the pod
    /// failed.
    pub fn run_pod(&self, pod: &Value) -> Result<(String, String), String> {
        self.run_pod_as(pod, &Identity::default(), &|_| {})
    }

    /// Runs `pod` as `who`; `started` gets the process id of the main container's sandbox, which
    /// ends the container, and everything in it, when killed.
    pub fn run_pod_as(
        &self,
        pod: &Value,
        who: &Identity,
        started: &(dyn Fn(u32) + Sync),
    ) -> Result<(String, String), String> {
        let n = self.pods.fetch_add(1, Ordering::SeqCst) + 1;
        let volumes_dir = self.dir.join(format!("pod-{n}"));
        std::fs::create_dir_all(&volumes_dir).map_err(|e| e.to_string())?;
        let hosts = volumes_dir.join("etc-hosts");
        let mut text = format!("{} localhost {}\n", who.address, who.hostname);
        for (name, address) in &who.peers {
            text.push_str(&format!("{address} {name}\n"));
        }
        std::fs::write(&hosts, text).map_err(|e| e.to_string())?;
        let pod_ctx = PodContext { pod, who, hosts: &hosts, started };
        let mut volumes: BTreeMap<String, PathBuf> = BTreeMap::new();
        for v in pod["volumes"].as_array().into_iter().flatten() {
            let name = v["name"].as_str().unwrap_or_default();
            let path = volumes_dir.join(name);
            std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
            if let Some(cm) = v["configMap"]["name"].as_str() {
                let data = who.config_map(self, cm).ok_or_else(|| format!("configmap \"{cm}\" not found"))?;
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
            self.run_container(&pod_ctx, c, &volumes, false)?;
        }
        self.run_container(&pod_ctx, &pod["containers"][0], &volumes, true)
    }

    fn run_container(
        &self,
        ctx: &PodContext<'_>,
        c: &Value,
        volumes: &BTreeMap<String, PathBuf>,
        main: bool,
    ) -> Result<(String, String), String> {
        let pod = ctx.pod;
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
            let from = &e["valueFrom"];
            let value = match (&e["value"], &from["secretKeyRef"], &from["configMapKeyRef"]) {
                (Value::String(v), _, _) => v.clone(),
                (_, Value::Object(r), _) => {
                    let (secret, k) = (r["name"].as_str().unwrap_or_default(), r["key"].as_str().unwrap_or_default());
                    self.secrets.get(secret).and_then(|d| d.get(k)).cloned().ok_or_else(|| {
                        format!("container {name}: CreateContainerConfigError: secret \"{secret}\" has no key \"{k}\"")
                    })?
                }
                (_, _, Value::Object(r)) => {
                    let (map, k) = (r["name"].as_str().unwrap_or_default(), r["key"].as_str().unwrap_or_default());
                    ctx.who.config_map(self, map).and_then(|d| d.get(k)).cloned().ok_or_else(|| {
                        format!("container {name}: CreateContainerConfigError: configmap \"{map}\" has no key \"{k}\"")
                    })?
                }
                _ => String::new(),
            };
            env.push((key, value));
        }
        let mut cmd = Command::new("bwrap");
        cmd.args(root_args(&root, ctx.hosts));
        // A read-only root file system has no writable `/tmp` either, unless a volume is there.
        let read_only = c["securityContext"]["readOnlyRootFilesystem"] == Value::Bool(true);
        cmd.args(["--unshare-all", "--share-net", "--die-with-parent", "--clearenv"]);
        cmd.args(["--hostname", &ctx.who.hostname]);
        cmd.args(["--uid", &uid.to_string(), "--gid", &gid.to_string()]);
        for m in c["volumeMounts"].as_array().into_iter().flatten() {
            let vol = m["name"].as_str().unwrap_or_default();
            // A container runtime makes mount points in the container's writable layer; here, in
            // the image's folder (a copy of the tests' own).
            if let Root::Image(dir) = &root {
                let point = dir.join(m["mountPath"].as_str().unwrap_or_default().trim_start_matches('/'));
                std::fs::create_dir_all(point).map_err(|e| format!("container {name}: mount point: {e}"))?;
            }
            let path = volumes.get(vol).ok_or_else(|| format!("container {name}: volume `{vol}` is not in the pod"))?;
            let bind = if m["readOnly"] == Value::Bool(true) { "--ro-bind" } else { "--bind" };
            cmd.arg(bind).arg(path).arg(m["mountPath"].as_str().unwrap_or_default());
        }
        if read_only {
            // After the volumes' mount points are made: they stay as mounted.
            let tmp_volume = c["volumeMounts"].as_array().into_iter().flatten().any(|m| m["mountPath"] == "/tmp");
            if !tmp_volume {
                cmd.args(["--remount-ro", "/tmp"]);
            }
            cmd.args(["--remount-ro", "/"]);
        }
        for (k, v) in &env {
            cmd.args(["--setenv", k, v]);
        }
        cmd.args(["--chdir", c["workingDir"].as_str().unwrap_or("/")]);
        let vars: BTreeMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let argv: Vec<String> = c["command"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(c["args"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .map(|arg| expand(arg, &vars))
            .collect();
        if argv.is_empty() {
            return Err(format!("container {name}: no command (images' entrypoints are not modelled)"));
        }
        cmd.arg("--").args(&argv);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
        let child = cmd.spawn().map_err(|e| format!("cannot run `bwrap` ({e}): install Debian's bubblewrap"))?;
        if main {
            (ctx.started)(child.id());
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
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

/// The kubelet's expansion of a container's command and args (`ExpandContainerCommandAndArgs`,
/// kubernetes `third_party/forked/golang/expansion/expand.go`): `$(NAME)` becomes the container's
/// variable `NAME` when it has one and stays as written when not; `$$` is a `$`; any other `$` is
/// itself.
pub fn expand(text: &str, vars: &BTreeMap<&str, &str>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(name) = after.strip_prefix('(').and_then(|a| a.split_once(')')).map(|(n, _)| n) {
            match vars.get(name) {
                Some(value) => out.push_str(value),
                None => out.push_str(&format!("$({name})")),
            }
            rest = &after[name.len() + 2..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}
