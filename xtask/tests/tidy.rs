//! House rules that no compiler lint checks, run by `cargo test` (after rust-analyzer's tidy).

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// Every file under the tracked source dirs with one of `extensions`.
fn files(extensions: &[&str]) -> Vec<PathBuf> {
    fn walk(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    walk(&path, extensions, out);
                }
            } else if extensions.iter().any(|ext| name.ends_with(ext)) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for dir in ["crates", "bench", "xtask", "scripts", "docs"] {
        let dir = root().join(dir);
        if dir.exists() {
            walk(&dir, extensions, &mut out);
        }
    }
    assert!(!out.is_empty(), "tidy found no files: is the root right?");
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let missing: Vec<_> = files(&[".rs"])
        .into_iter()
        .filter(|path| !read(path).lines().next().is_some_and(|line| line.starts_with("//!")))
        .collect();
    assert!(missing.is_empty(), "files without a leading //! line: {missing:#?}");
}

#[test]
fn no_trailing_whitespace() {
    let mut offenders = Vec::new();
    for path in files(&[".rs", ".toml", ".md", ".sh"]) {
        for (number, line) in read(&path).lines().enumerate() {
            if line.ends_with(' ') || line.ends_with('\t') {
                offenders.push(format!("{}:{}", path.display(), number + 1));
            }
        }
    }
    assert!(offenders.is_empty(), "trailing whitespace: {offenders:#?}");
}

#[test]
fn no_ignored_or_should_panic_tests() {
    // Built from pieces so this file does not match itself.
    let banned = [format!("#[{}]", "ignore"), format!("#[{}", "should_panic")];
    let mut offenders = Vec::new();
    for path in files(&[".rs"]) {
        let text = read(&path);
        for pattern in &banned {
            if text.contains(pattern.as_str()) {
                offenders.push(format!("{}: {pattern}", path.display()));
            }
        }
    }
    assert!(offenders.is_empty(), "tests must run and assert, not be skipped: {offenders:#?}");
}

/// `[dependencies]` of a crate's manifest, as the names before `=` or `.workspace`.
fn dependencies(manifest: &Path) -> Vec<String> {
    let text = read(manifest);
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap().to_owned();
            deps.push(name);
        }
    }
    deps
}

#[test]
fn crate_dependencies_follow_the_architecture() {
    let crates = root().join("crates");
    // The store knows bytes, not Kubernetes, and no crate of ours.
    let store = dependencies(&crates.join("store/Cargo.toml"));
    assert!(store.iter().all(|d| !d.starts_with("berth")), "store depends on {store:?}");
    // The API types are pure: no async runtime, no IO.
    if crates.join("api/Cargo.toml").exists() {
        let api = dependencies(&crates.join("api/Cargo.toml"));
        for banned in ["tokio", "hyper", "axum", "rusqlite", "etcd-client", "berth-store"] {
            assert!(!api.iter().any(|d| d == banned), "api depends on {banned}");
        }
    }
    // Only the apiserver touches the store.
    for component in ["controllers", "kubelet", "dns"] {
        let manifest = crates.join(component).join("Cargo.toml");
        if manifest.exists() {
            let deps = dependencies(&manifest);
            assert!(!deps.iter().any(|d| d == "berth-store"), "{component} depends on the store");
        }
    }
}

#[test]
fn only_the_cli_reads_the_environment() {
    let mut offenders = Vec::new();
    for path in files(&[".rs"]) {
        let relative = path.strip_prefix(root()).unwrap().to_string_lossy().into_owned();
        let library_source = relative.starts_with("crates/")
            && relative.contains("/src/")
            && !relative.starts_with("crates/cli/")
            && !relative.starts_with("crates/testkit/");
        if library_source && read(&path).contains("std::env::var") {
            offenders.push(relative);
        }
    }
    assert!(offenders.is_empty(), "environment read below the cli: {offenders:#?}");
}
