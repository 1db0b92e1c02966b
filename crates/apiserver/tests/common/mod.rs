//! Helpers for the API server's tests: a server on a free port, a private kubectl, raw HTTPS.

#![allow(dead_code, unreachable_pub, reason = "each test file uses some of the helpers")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_apiserver::{ApiServer, ApiServerConfig, Error};
use berth_store::{MemoryStore, Store};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

pub async fn start_at(data_dir: &Path, listen: SocketAddr) -> Result<ApiServer, Error> {
    let config = ApiServerConfig::new(listen, data_dir);
    berth_apiserver::start(config, Arc::new(MemoryStore::new())).await
}

pub async fn start(data_dir: &Path) -> ApiServer {
    start_at(data_dir, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// API servers on one `MemoryStore` the test holds too: to write behind a server's back, or to
/// restart one on the same data (the same data dir, and the address the first one had).
pub struct OnStore {
    pub dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    listen: SocketAddr,
}

impl OnStore {
    pub fn new() -> OnStore {
        OnStore {
            dir: tempfile::tempdir().unwrap(),
            store: Arc::new(MemoryStore::new()),
            listen: "127.0.0.1:0".parse().unwrap(),
        }
    }

    /// Starts an API server on the store: on a free port the first time, then on that port.
    pub async fn start(&mut self) -> ApiServer {
        let config = ApiServerConfig::new(self.listen, self.dir.path());
        let server = berth_apiserver::start(config, self.store.clone()).await.unwrap();
        self.listen = server.local_addr();
        server
    }
}

/// `kubectl` on PATH, or `None` (skip) when it is missing and `BERTH_REAL` is unset.
#[allow(clippy::print_stderr, reason = "a skipped test must be visible in the test output")]
pub fn kubectl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path).map(|dir| dir.join("kubectl")).find(|file| file.is_file())
    });
    match found {
        Some(kubectl) => Some(kubectl),
        None if std::env::var_os("BERTH_REAL").is_none() => {
            eprintln!("skipping: kubectl is not on PATH (set BERTH_REAL=1 to make this fail)");
            None
        }
        None => panic!("BERTH_REAL=1 and kubectl is not on PATH"),
    }
}

/// A kubectl with a private HOME (its discovery and version caches) and the given kubeconfig.
pub struct Kubectl {
    binary: PathBuf,
    home: tempfile::TempDir,
}

impl Kubectl {
    pub fn new() -> Option<Kubectl> {
        Some(Kubectl { binary: kubectl()?, home: tempfile::tempdir().unwrap() })
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The private HOME its caches go to.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs kubectl; returns (success, stdout, stderr).
    pub async fn run(&self, kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
        let output = tokio::process::Command::new(&self.binary)
            .args(args)
            .env("HOME", self.home.path())
            .env("KUBECONFIG", kubeconfig)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(60), output)
            .await
            .expect("kubectl did not finish within 60 s")
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Runs kubectl and insists it succeeds; returns stdout.
    pub async fn ok(&self, kubeconfig: &Path, args: &[&str]) -> String {
        let (success, stdout, stderr) = self.run(kubeconfig, args).await;
        assert!(success, "kubectl {args:?} failed:\n{stdout}\n{stderr}");
        stdout
    }
}

/// One HTTP/1.1 request over TLS that trusts only our CA and sends no client certificate.
/// Returns the status code and the body.
pub async fn raw(
    data_dir: &Path,
    addr: SocketAddr,
    request_line: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    raw_with_body(data_dir, addr, request_line, headers, &[]).await
}

/// As [`raw`], with a request body (sent with its Content-Length).
pub async fn raw_with_body(
    data_dir: &Path,
    addr: SocketAddr,
    request_line: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let (code, _, body) = raw_exchange(data_dir, addr, request_line, headers, body).await;
    (code, body)
}

/// As [`raw_with_body`], also returning the response's header lines (`name: value`).
pub async fn raw_exchange(
    data_dir: &Path,
    addr: SocketAddr,
    request_line: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<String>, String) {
    let ca = CertificateDer::from_pem_file(data_dir.join("pki/ca.crt")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let mut request =
        format!("{request_line} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    tls.write_all(body).await.unwrap();
    let mut response = Vec::new();
    // The server may close without a TLS close_notify once it has answered.
    let _ = tls.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").expect("a complete HTTP response");
    let code = head.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status line");
    let header_lines = head.lines().skip(1).map(str::to_owned).collect();
    (code, header_lines, body.to_owned())
}

pub fn token(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("pki/admin.token")).unwrap().trim().to_owned()
}

/// A kubeconfig that authenticates with `token` alone (no client certificate); `dir` holds
/// the server's data dir as `data/`.
pub fn token_kubeconfig(
    dir: &Path,
    name: &str,
    server: std::net::SocketAddr,
    token: &str,
) -> PathBuf {
    let path = dir.join(name);
    let ca = dir.join("data/pki/ca.crt");
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: berth
  cluster:
    server: https://{server}
    certificate-authority: {}
users:
- name: robot
  user:
    token: {token}
contexts:
- name: robot
  context: {{cluster: berth, user: robot, namespace: default}}
current-context: robot
",
        ca.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The Python with the `kubernetes` package: `BERTH_PYTHON` (set by scripts/test.sh to the
/// venv scripts/setup.sh makes), else `python3`. `None` (skip) when the package is missing and
/// `BERTH_REAL` is unset.
#[allow(clippy::print_stderr, reason = "a skipped test must be visible in the test output")]
pub fn python() -> Option<String> {
    let python = std::env::var("BERTH_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let found = std::process::Command::new(&python)
        .args(["-c", "import kubernetes"])
        .output()
        .is_ok_and(|output| output.status.success());
    match found {
        true => Some(python),
        false if std::env::var_os("BERTH_REAL").is_none() => {
            eprintln!(
                "skipping: {python} cannot import kubernetes (set BERTH_REAL=1 to make this fail)"
            );
            None
        }
        false => panic!("BERTH_REAL=1 and {python} cannot import the kubernetes package"),
    }
}
