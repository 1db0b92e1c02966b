//! The API server over real HTTPS: real `kubectl` (the dispatcher on PATH), raw requests with
//! and without credentials, restarts on the same data dir and a damaged PKI.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_apiserver::{ApiServer, ApiServerConfig, Error};
use berth_store::MemoryStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn start_at(data_dir: &Path, listen: SocketAddr) -> Result<ApiServer, Error> {
    let config = ApiServerConfig { listen, data_dir: data_dir.to_owned() };
    berth_apiserver::start(config, Arc::new(MemoryStore::new())).await
}

async fn start(data_dir: &Path) -> ApiServer {
    start_at(data_dir, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// `kubectl` on PATH, or `None` (skip) when it is missing and `BERTH_REAL` is unset.
#[allow(clippy::print_stderr, reason = "a skipped test must be visible in the test output")]
fn kubectl() -> Option<PathBuf> {
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
struct Kubectl {
    binary: PathBuf,
    home: tempfile::TempDir,
}

impl Kubectl {
    fn new() -> Option<Kubectl> {
        Some(Kubectl { binary: kubectl()?, home: tempfile::tempdir().unwrap() })
    }

    /// Runs kubectl; returns (success, stdout, stderr).
    async fn run(&self, kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
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
    async fn ok(&self, kubeconfig: &Path, args: &[&str]) -> String {
        let (success, stdout, stderr) = self.run(kubeconfig, args).await;
        assert!(success, "kubectl {args:?} failed:\n{stdout}\n{stderr}");
        stdout
    }
}

/// One HTTP/1.1 request over TLS that trusts only our CA and sends no client certificate.
/// Returns the status code and the body.
async fn raw(
    data_dir: &Path,
    addr: SocketAddr,
    request_line: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
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
    request.push_str("\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    // The server may close without a TLS close_notify once it has answered.
    let _ = tls.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").expect("a complete HTTP response");
    let code = head.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status line");
    (code, body.to_owned())
}

fn token(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("pki/admin.token")).unwrap().trim().to_owned()
}

const UNAUTHORIZED: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reads_version_readiness_and_metrics() {
    let Some(kubectl) = Kubectl::new() else { return };
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let kubeconfig = server.kubeconfig_path().to_owned();
    assert_eq!(kubeconfig, data.path().join("kubeconfig.yaml"));

    let version = kubectl.ok(&kubeconfig, &["version", "-o", "json"]).await;
    let version: serde_json::Value = serde_json::from_str(&version).unwrap();
    assert_eq!(version["serverVersion"]["major"], "1", "{version}");
    assert_eq!(version["serverVersion"]["minor"], "33", "{version}");
    let git_version = version["serverVersion"]["gitVersion"].as_str().unwrap();
    assert!(git_version.starts_with("v1.33.0+berth."), "{git_version}");
    // The dispatcher picked kubectl 1.33 for a 1.33 server.
    let client = version["clientVersion"]["minor"].as_str().unwrap();
    assert_eq!(client, "33", "{version}");

    assert_eq!(kubectl.ok(&kubeconfig, &["get", "--raw", "/readyz"]).await.trim(), "ok");
    assert_eq!(kubectl.ok(&kubeconfig, &["get", "--raw", "/livez"]).await.trim(), "ok");
    let metrics = kubectl.ok(&kubeconfig, &["get", "--raw", "/metrics"]).await;
    assert!(
        metrics.contains(r#"apiserver_request_total{verb="GET",group="/readyz",code="200"}"#),
        "{metrics}"
    );
    assert!(metrics.contains("apiserver_request_duration_seconds_bucket{"), "{metrics}");

    // An unknown path is a 404 Status, which kubectl prints as Kubernetes' NotFound.
    let (success, _, stderr) = kubectl.run(&kubeconfig, &["get", "--raw", "/nope"]).await;
    assert!(!success);
    assert!(stderr.contains("the server could not find the requested resource"), "{stderr}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_need_a_certificate_or_the_token() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let addr = server.local_addr();
    let token = token(data.path());
    let bearer = format!("Bearer {token}");
    let wrong = format!("Bearer {}", "0".repeat(token.len()));

    assert_eq!(raw(data.path(), addr, "GET /metrics", &[]).await, (401, UNAUTHORIZED.into()));
    assert_eq!(raw(data.path(), addr, "GET /api", &[]).await, (401, UNAUTHORIZED.into()));
    let wrong_token = [("Authorization", wrong.as_str())];
    assert_eq!(
        raw(data.path(), addr, "GET /metrics", &wrong_token).await,
        (401, UNAUTHORIZED.into())
    );
    // A wrong token is refused even where no credentials are needed, as in Kubernetes.
    assert_eq!(
        raw(data.path(), addr, "GET /readyz", &wrong_token).await,
        (401, UNAUTHORIZED.into())
    );

    let (code, body) = raw(data.path(), addr, "GET /metrics", &[("Authorization", &bearer)]).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#"group="/metrics",code="401"} 2"#), "{body}");
    assert_eq!(raw(data.path(), addr, "GET /readyz", &[]).await, (200, "ok".into()));
    let (code, body) = raw(data.path(), addr, "GET /version", &[]).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""minor":"33""#), "{body}");

    // Oversize bodies are refused by what they declare, before they are read.
    let oversize = (3 * 1024 * 1024 + 1).to_string();
    let headers = [("Authorization", bearer.as_str()), ("Content-Length", oversize.as_str())];
    let (code, body) = raw(data.path(), addr, "POST /api/v1/namespaces", &headers).await;
    assert_eq!(code, 413, "{body}");
    assert!(body.contains(r#""reason":"RequestEntityTooLarge""#), "{body}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_ca_so_old_kubeconfigs_keep_working() {
    let Some(kubectl) = Kubectl::new() else { return };
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path()).await;
    let addr = server.local_addr();
    let first = std::fs::read(server.kubeconfig_path()).unwrap();
    let token = token(data.path());
    server.shutdown().await;

    // A missing serving certificate is reissued by the same CA.
    std::fs::remove_file(data.path().join("pki/server.crt")).unwrap();
    let server = start_at(data.path(), addr).await.unwrap();
    assert_eq!(std::fs::read(server.kubeconfig_path()).unwrap(), first);
    assert_eq!(crate::token(data.path()), token);
    let old = data.path().join("old-kubeconfig.yaml");
    std::fs::write(&old, &first).unwrap();
    // /metrics needs credentials: the old client certificate is still accepted.
    let metrics = kubectl.ok(&old, &["get", "--raw", "/metrics"]).await;
    assert!(metrics.contains("apiserver_request_total"), "{metrics}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_ca_key_stops_the_start_and_names_the_file() {
    let data = tempfile::tempdir().unwrap();
    start(data.path()).await.shutdown().await;
    let ca_key = data.path().join("pki/ca.key");
    std::fs::write(&ca_key, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
        .unwrap();
    let error = start_at(data.path(), "127.0.0.1:0".parse().unwrap()).await.unwrap_err();
    assert!(error.is_bad_data(), "{error:?}");
    assert!(error.to_string().contains(&ca_key.display().to_string()), "{error}");
    // Nothing was regenerated.
    assert!(std::fs::read_to_string(&ca_key).unwrap().contains("not a key"));
}
