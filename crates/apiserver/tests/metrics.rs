//! `/metrics` over HTTPS: kube-apiserver's request, long-running (watch) and storage metrics
//! with bounded labels, fed by real requests.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{raw, raw_with_body, start, token};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Opens a watch and returns the connection once the response headers have arrived; the
/// watch stays open until the stream is dropped.
async fn open_watch(
    data_dir: &Path,
    addr: std::net::SocketAddr,
    path: &str,
    token: &str,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
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
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut byte))
            .await
            .expect("the watch answers")
            .unwrap();
        assert_eq!(read, 1, "the watch closed early: {}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head));
    tls
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn series(verb: &str, resource: &str, scope: &str, code: Option<u16>) -> String {
    let labels = format!(
        "verb=\"{verb}\",dry_run=\"\",group=\"\",version=\"v1\",resource=\"{resource}\",\
         subresource=\"\",scope=\"{scope}\",component=\"apiserver\""
    );
    match code {
        Some(code) => format!("apiserver_request_total{{{labels},code=\"{code}\"}}"),
        None => format!("apiserver_request_duration_seconds_count{{{labels}}}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_watches_and_store_calls_with_kubernetes_labels() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let addr = server.local_addr();
    let token = token(dir.path());
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let metrics = || async {
        let (code, text) = raw(dir.path(), addr, "GET /metrics", &auth[..1]).await;
        assert_eq!(code, 200, "{text}");
        text
    };

    let body = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"secret-name-1"}}"#;
    let path = "/api/v1/namespaces/default/configmaps";
    let (code, _) = raw_with_body(dir.path(), addr, &format!("POST {path}"), &auth, body).await;
    assert_eq!(code, 201);
    let (code, _) = raw(dir.path(), addr, &format!("GET {path}/secret-name-1"), &auth).await;
    assert_eq!(code, 200);
    let (code, _) = raw(dir.path(), addr, &format!("GET {path}/secret-name-2"), &auth).await;
    assert_eq!(code, 404);
    let (code, _) = raw(dir.path(), addr, &format!("GET {path}"), &auth).await;
    assert_eq!(code, 200);
    let (code, _) = raw(dir.path(), addr, "GET /readyz", &[]).await;
    assert_eq!(code, 200);
    let watch = open_watch(dir.path(), addr, &format!("{path}?watch=1"), &token).await;

    let text = metrics().await;
    assert_eq!(sample(&text, &series("POST", "configmaps", "resource", Some(201))), Some(1.0));
    assert_eq!(sample(&text, &series("GET", "configmaps", "resource", Some(200))), Some(1.0));
    assert_eq!(sample(&text, &series("GET", "configmaps", "resource", Some(404))), Some(1.0));
    assert_eq!(sample(&text, &series("LIST", "configmaps", "namespace", Some(200))), Some(1.0));
    assert_eq!(sample(&text, &series("GET", "configmaps", "resource", None)), Some(2.0));
    let readyz = "apiserver_request_total{verb=\"GET\",dry_run=\"\",group=\"\",version=\"\",\
                  resource=\"\",subresource=\"/readyz\",scope=\"\",component=\"apiserver\",code=\"200\"}";
    assert_eq!(sample(&text, readyz), Some(1.0), "{text}");
    let watches = "apiserver_longrunning_requests{verb=\"WATCH\",group=\"\",version=\"v1\",\
                   resource=\"configmaps\",subresource=\"\",scope=\"namespace\",component=\"apiserver\"}";
    assert_eq!(sample(&text, watches), Some(1.0), "{text}");
    let creates = "etcd_request_duration_seconds_count{operation=\"create\",type=\"configmaps\"}";
    assert!(sample(&text, creates).is_some_and(|n| n >= 1.0), "{text}");
    let gets = "etcd_request_duration_seconds_count{operation=\"get\",type=\"configmaps\"}";
    assert!(sample(&text, gets).is_some_and(|n| n >= 2.0), "{text}");
    assert!(
        sample(&text, "apiserver_storage_objects{resource=\"configmaps\"}")
            .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(&text, "apiserver_storage_objects{resource=\"namespaces\"}")
            .is_some_and(|n| n >= 4.0),
        "{text}"
    );
    // Labels never carry names or raw paths.
    assert!(!text.contains("secret-name"), "{text}");
    assert!(!text.contains("default"), "{text}");
    for line in text.lines().filter(|l| l.starts_with("apiserver_request_duration_seconds_bucket"))
    {
        assert!(line.contains("le=\""), "{line}");
    }

    // Once the client goes (and the next event finds it gone), the watch no longer counts.
    drop(watch);
    let body = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"wake-the-watch"}}"#;
    let (code, _) = raw_with_body(dir.path(), addr, &format!("POST {path}"), &auth, body).await;
    assert_eq!(code, 201);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = metrics().await;
        if sample(&text, watches) == Some(0.0) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the watch still counts:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.shutdown().await;
}
