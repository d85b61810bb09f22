//! Real servers the tests start on loopback, and stop when dropped.
//!
//! A missing server program fails the test with what to install: tests are never skipped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `moto_server` (S3-compatible, from PyPI `moto[server]`) on 127.0.0.1, with one bucket.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub endpoint: String,
    pub bucket: String,
}

impl Moto {
    /// Starts a server on a free port and creates `bucket` in it.
    pub fn start(bucket: &str) -> Moto {
        Moto::start_with(bucket, &[])
    }

    /// Like [`Moto::start`], but the server checks signatures after creating the bucket: keys it
    /// does not know (such as [`Moto::env`]'s) get 403 InvalidAccessKeyId, as from AWS.
    pub fn start_checking_credentials(bucket: &str) -> Moto {
        // moto's settings.py: actions before this count go unauthenticated (bucket creation).
        Moto::start_with(bucket, &[("INITIAL_NO_AUTH_ACTION_COUNT", "1")])
    }

    fn start_with(bucket: &str, env: &[(&str, &str)]) -> Moto {
        let port = free_port();
        let child = Command::new("moto_server")
            .envs(env.iter().copied())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `moto_server` ({e}): install it with `pip install 'moto[server]'` (scripts/test.sh does)")
            });
        let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}"), bucket: bucket.to_owned() };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match http(
                port,
                &format!(
                    "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                ),
            ) {
                Ok(reply) if reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200") => return moto,
                Ok(reply) => {
                    panic!("moto_server refused to create bucket `{bucket}`: {}", reply.lines().next().unwrap_or(""))
                }
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => panic!("moto_server did not answer on port {port} within 30 s: {e}"),
            }
        }
    }

    /// The store URL of the bucket, under `prefix`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// Runs `pipe ARGS` (the binary at `pipe`) in `dir` with this server's settings in its
    /// environment; it must succeed.
    pub fn pipe(&self, pipe: &Path, dir: &Path, args: &[&str]) -> std::process::Output {
        crate::succeeded(Command::new(pipe).args(args).current_dir(dir).envs(self.env()).output().expect("pipe runs"))
    }

    /// The `object_store` settings that point an S3 client at this server.
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_access_key_id", "test"),
            ("aws_secret_access_key", "test"),
            ("aws_region", "us-east-1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The same settings as environment variables, for child processes.
    pub fn env(&self) -> Vec<(String, String)> {
        self.options().into_iter().map(|(k, v)| (k.to_uppercase(), v)).collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

fn http(port: u16, request: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request.as_bytes())?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply)
}

/// kmock's Kubernetes emulator (PyPI `kmock`) on 127.0.0.1, started by
/// `tests/servers/kmock_server.py` with the resources `pipe deploy` uses declared.
#[derive(Debug)]
pub struct Kmock {
    child: Child,
    pub port: u16,
    pub url: String,
}

impl Kmock {
    pub fn start() -> Kmock {
        let dir = tempfile_dir();
        let port_file = dir.join("port");
        let script = crate::repo_root().join("tests/servers/kmock_server.py");
        let child = Command::new("python3")
            .arg(&script)
            .arg(&port_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} ({e}): install Python 3", script.display()));
        let mut kmock = Kmock { child, port: 0, url: String::new() };
        let deadline = Instant::now() + Duration::from_secs(30);
        while kmock.port == 0 {
            if let Ok(Some(status)) = kmock.child.try_wait() {
                panic!(
                    "the kmock server exited ({status}): install it with `pip install kmock` (scripts/test.sh does)"
                );
            }
            kmock.port = std::fs::read_to_string(&port_file).ok().and_then(|p| p.trim().parse().ok()).unwrap_or(0);
            assert!(Instant::now() < deadline, "the kmock server did not start within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        kmock.url = format!("http://127.0.0.1:{}", kmock.port);
        let _ = std::fs::remove_dir_all(dir);
        kmock
    }

    /// Sends `method path` with a JSON `body` (content type `content_type`); gives the status
    /// code and the body of the reply.
    pub fn request(&self, method: &str, path: &str, content_type: &str, body: &str) -> (u16, String) {
        let reply = http(
            self.port,
            &format!(
                "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                self.port,
                body.len()
            ),
        )
        .expect("kmock answers");
        let code = reply.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = reply.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned());
        (code, body)
    }
}

impl Drop for Kmock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pipe-kmock-{}-{}", std::process::id(), fastrand::u64(..)));
    std::fs::create_dir_all(&dir).expect("a temp folder");
    dir
}

/// A real `mlflow server` (PyPI `mlflow==3.17.2`, SQLite backend) on 127.0.0.1: the one
/// `scripts/test.sh` started (its address in `PIPE_TEST_MLFLOW`), else one started here, in its own
/// process group so that dropping it stops every worker it started. Tests share a server, so
/// each names an experiment of its own.
#[derive(Debug)]
pub struct Mlflow {
    /// The process group of a server started here.
    group: Option<Child>,
    pub url: String,
    port: u16,
}

impl Mlflow {
    pub fn start() -> Mlflow {
        if let Some(url) = std::env::var("PIPE_TEST_MLFLOW").ok().filter(|u| !u.is_empty()) {
            let port = url
                .rsplit(':')
                .next()
                .and_then(|p| p.trim_end_matches('/').parse().ok())
                .expect("a port in PIPE_TEST_MLFLOW");
            return Mlflow { group: None, url, port };
        }
        let dir = tempfile_dir();
        let port = free_port();
        let child = Command::new("mlflow")
            .args(["server", "--host", "127.0.0.1", "--port", &port.to_string(), "--workers", "1"])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
            .arg("--default-artifact-root")
            .arg(dir.join("artifacts"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `mlflow server` ({e}): install it with `pip install mlflow==3.17.2` (scripts/test.sh does)")
            });
        let mut mlflow = Mlflow { group: Some(child), url: format!("http://127.0.0.1:{port}"), port };
        // It starts slowly (30–45 s on two cores).
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if mlflow.get("/health").0 == 200 {
                return mlflow;
            }
            if let Some(Ok(Some(status))) = mlflow.group.as_mut().map(Child::try_wait) {
                panic!("`mlflow server` exited ({status}): install it with `pip install mlflow==3.17.2`");
            }
            assert!(Instant::now() < deadline, "`mlflow server` did not answer within 180 s");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// `GET path`: the status code and the body (0 and empty when nothing answers).
    pub fn get(&self, path: &str) -> (u16, String) {
        self.send(&format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n", self.port))
    }

    /// `POST /api/2.0/mlflow/<method>` with a JSON body; gives the reply as JSON.
    pub fn post(&self, method: &str, body: &serde_json::Value) -> serde_json::Value {
        let body = body.to_string();
        let (code, reply) = self.send(&format!(
            "POST /api/2.0/mlflow/{method} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        ));
        assert_eq!(code, 200, "MLflow {method}: {reply}");
        serde_json::from_str(&reply).unwrap_or_else(|e| panic!("MLflow {method} gave no JSON ({e}): {reply}"))
    }

    /// The runs of experiment `name`, as `runs/search` gives them (none if it does not exist).
    pub fn runs(&self, experiment: &str) -> Vec<serde_json::Value> {
        let (code, found) = self.get(&format!("/api/2.0/mlflow/experiments/get-by-name?experiment_name={experiment}"));
        if code != 200 {
            return Vec::new();
        }
        let found: serde_json::Value = serde_json::from_str(&found).expect("JSON");
        let id = found["experiment"]["experiment_id"].clone();
        let runs = self.post("runs/search", &serde_json::json!({ "experiment_ids": [id], "max_results": 1000 }));
        runs["runs"].as_array().cloned().unwrap_or_default()
    }

    fn send(&self, request: &str) -> (u16, String) {
        let Ok(reply) = http(self.port, request) else { return (0, String::new()) };
        let code = reply.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = reply.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned());
        (code, body)
    }
}

impl Drop for Mlflow {
    fn drop(&mut self) {
        if let Some(child) = &mut self.group {
            // The server's workers are in its process group: end them all.
            let group = rustix::process::Pid::from_child(child);
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::TERM);
            let _ = child.wait();
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }
}
