//! The ResourceQuota admission plugin under concurrent creates, over real HTTPS with no
//! controllers: each create that passes charges the quota by a compare-and-swap of its status,
//! so racing creates never take more than the quota allows.

mod common;

use common::{raw_with_body, start, token};

#[tokio::test]
async fn concurrent_creates_never_exceed_a_quota() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let addr = server.local_addr();
    let bearer = format!("Bearer {}", token(dir.path()));
    let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let quotas = "/api/v1/namespaces/default/resourcequotas";

    let quota = r#"{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"q"},
        "spec":{"hard":{"configmaps":"3"}}}"#;
    let line = format!("POST {quotas}");
    let (code, body) = raw_with_body(dir.path(), addr, &line, &headers, quota.as_bytes()).await;
    assert_eq!(code, 201, "{body}");
    // What the quota controller would write first: the limits and nothing used.
    let status = r#"{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"q"},
        "spec":{"hard":{"configmaps":"3"}},"status":{"hard":{"configmaps":"3"},"used":{"configmaps":"0"}}}"#;
    let line = format!("PATCH {quotas}/q/status");
    let patch =
        [("Authorization", bearer.as_str()), ("Content-Type", "application/merge-patch+json")];
    let (code, body) = raw_with_body(dir.path(), addr, &line, &patch, status.as_bytes()).await;
    assert_eq!(code, 200, "{body}");

    let creates = (0..10).map(|i| {
        let dir = dir.path().to_owned();
        let bearer = bearer.clone();
        tokio::spawn(async move {
            let map =
                format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"c{i}"}}}}"#);
            let headers =
                [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
            let line = "POST /api/v1/namespaces/default/configmaps";
            raw_with_body(&dir, addr, line, &headers, map.as_bytes()).await
        })
    });
    let mut codes = Vec::new();
    for create in creates.collect::<Vec<_>>() {
        let (code, body) = create.await.unwrap();
        if code == 403 {
            assert!(body.contains("exceeded quota: q, requested: configmaps=1"), "{body}");
        }
        codes.push(code);
    }
    codes.sort_unstable();
    assert_eq!(codes, [201, 201, 201, 403, 403, 403, 403, 403, 403, 403]);

    let line = format!("GET {quotas}/q");
    let (code, body) = raw_with_body(dir.path(), addr, &line, &headers, b"").await;
    assert_eq!(code, 200);
    assert!(body.contains(r#""used":{"configmaps":"3"}"#), "{body}");
    server.shutdown().await;
}
