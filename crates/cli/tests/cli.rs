//! The berth binary as a user meets it: flags, start-up, refusals and shutdown.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Output, Stdio},
};

fn berth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth")).args(args).output().expect("run berth")
}

/// Exit code 2 and exactly one line on stderr, containing `needle`.
fn assert_one_line_exit_2(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "want one line, got: {stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
}

#[test]
fn bad_flags_get_one_line_and_exit_2() {
    assert_one_line_exit_2(&berth(&["server", "--no-such-flag"]), "--no-such-flag");
    assert_one_line_exit_2(&berth(&["server"]), "--data-dir");
    assert_one_line_exit_2(&berth(&["frobnicate"]), "frobnicate");
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    assert_one_line_exit_2(
        &berth(&["server", "--data-dir", data_dir, "--store", "mysql://x"]),
        "mysql",
    );
    assert_one_line_exit_2(
        &berth(&["server", "--data-dir", data_dir, "--history", "soon"]),
        "soon",
    );
    assert_one_line_exit_2(
        &berth(&["server", "--data-dir", data_dir, "--runtime", "simulated", "--nodes", "300"]),
        "holds 256",
    );
    assert_one_line_exit_2(
        &berth(&["server", "--data-dir", data_dir, "--feature-gates", "NoSuchGate=true"]),
        "unrecognized feature gate: NoSuchGate",
    );
    assert_one_line_exit_2(
        &berth(&["server", "--data-dir", data_dir, "--controllers", "*,-schedular"]),
        "unknown controller \"schedular\"",
    );
}

#[test]
fn a_data_dir_that_is_a_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    assert_one_line_exit_2(
        &berth(&["server", "--data-dir", file.to_str().unwrap()]),
        "not a directory",
    );
}

#[test]
fn a_corrupt_store_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    std::fs::write(&store, b"garbage ".repeat(1000)).unwrap();
    let output = berth(&["server", "--data-dir", dir.path().to_str().unwrap()]);
    assert_one_line_exit_2(&output, &store.display().to_string());
    assert_eq!(std::fs::read(&store).unwrap(), b"garbage ".repeat(1000));
}

#[test]
fn server_starts_refuses_a_second_instance_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut server = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["server", "--data-dir", data_dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start berth");
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut ready = String::new();
    stderr.read_line(&mut ready).unwrap();
    assert!(ready.starts_with("berth: ready in "), "{ready}");
    assert!(ready.contains("store.db"), "{ready}");
    let kubeconfig = data_dir.join("kubeconfig.yaml");
    assert!(ready.trim_end().ends_with(&format!("export KUBECONFIG={}", kubeconfig.display())));
    assert!(kubeconfig.exists());

    let second =
        berth(&["server", "--data-dir", data_dir.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    let message = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{message}");
    assert!(message.contains("in use by another berth process"), "{message}");

    let status = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = server.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "berth should exit cleanly on SIGTERM");
}
