//! The Python `kubernetes` client from PyPI against the API server: `python/client.py` lists,
//! watches, creates a StatefulSet, patches, reads and deletes it; `python/custom_objects.py`
//! defines a CRD and does the same with its objects through `CustomObjectsApi`; each script
//! asserts every answer.

mod common;

use std::time::Duration;

use common::{python, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_lists_watches_creates_patches_and_deletes() {
    run("client.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_serves_custom_objects() {
    run("custom_objects.py").await;
}

/// Runs `tests/python/SCRIPT` against a fresh API server; it must print `ok`.
async fn run(script: &str) {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let script = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new(python)
        .arg(&script)
        .env("KUBECONFIG", server.kubeconfig_path())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), output)
        .await
        .expect("the Python client finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "ok");
    server.shutdown().await;
}
