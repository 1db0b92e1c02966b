//! Real kubectl (the dispatcher on PATH) with a private HOME, and a real `berth server` process
//! to point it at.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// `kubectl` on PATH, or `None` (skip) when it is missing and `BERTH_REAL` is unset.
#[allow(clippy::print_stderr, reason = "a skipped test must be visible in the test output")]
pub fn find() -> Option<PathBuf> {
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

/// A kubectl with a private HOME (its discovery and version caches) and one kubeconfig.
#[derive(Debug)]
pub struct Kubectl {
    binary: PathBuf,
    home: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Kubectl {
    /// `None` when kubectl is missing (see [`find`]).
    pub fn new(kubeconfig: &Path) -> Option<Kubectl> {
        Some(Kubectl {
            binary: find()?,
            home: tempfile::tempdir().expect("temp dir"),
            kubeconfig: kubeconfig.to_owned(),
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .env("HOME", self.home.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .kill_on_drop(true);
        command
    }

    /// Runs kubectl with `stdin`; returns (success, stdout, stderr).
    pub async fn run_with_stdin(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        use tokio::io::AsyncWriteExt as _;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kubectl");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.as_bytes()).await.expect("write kubectl's stdin");
        drop(input);
        let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("kubectl did not finish within 60 s")
            .expect("kubectl ran");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Runs kubectl; returns (success, stdout, stderr).
    pub async fn run(&self, args: &[&str]) -> (bool, String, String) {
        self.run_with_stdin(args, "").await
    }

    /// Runs kubectl and insists it succeeds; returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let (success, stdout, stderr) = self.run(args).await;
        assert!(success, "kubectl {args:?} failed:\n{stdout}\n{stderr}");
        stdout
    }

    /// Runs kubectl with `args` every 100 ms until `done` accepts what it printed (success,
    /// stdout, stderr) or 30 s passed (kubectl's view of a controller's or discovery's work
    /// trails a write); what it printed last, for the caller to assert on.
    pub async fn poll(
        &self,
        args: &[&str],
        done: impl Fn(&(bool, String, String)) -> bool,
    ) -> (bool, String, String) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let last = self.run(args).await;
            if done(&last) || tokio::time::Instant::now() >= deadline {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Applies a manifest given inline (`kubectl apply -f -`); returns stdout.
    pub async fn apply(&self, manifest: &str) -> String {
        let (success, stdout, stderr) = self.run_with_stdin(&["apply", "-f", "-"], manifest).await;
        assert!(success, "kubectl apply failed:\n{stdout}\n{stderr}\n{manifest}");
        stdout
    }

    /// Starts a long-running kubectl (e.g. `get pod -w`) whose stdout is read line by line.
    pub fn spawn(&self, args: &[&str]) -> Streaming {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kubectl");
        let stdout = child.stdout.take().expect("stdout");
        Streaming { lines: BufReader::new(stdout).lines(), _child: child }
    }
}

/// A running kubectl whose output is read line by line; killed when dropped.
#[derive(Debug)]
pub struct Streaming {
    lines: Lines<BufReader<ChildStdout>>,
    _child: Child,
}

impl Streaming {
    /// The next line, or `None` once kubectl ended; panics after `timeout`.
    pub async fn next_line(&mut self, timeout: Duration) -> Option<String> {
        tokio::time::timeout(timeout, self.lines.next_line())
            .await
            .expect("no line from kubectl in time")
            .expect("read kubectl's output")
    }
}

/// A real `berth server` process on a free loopback port, killed when dropped.
#[derive(Debug)]
pub struct BerthProcess {
    child: Child,
    data_dir: PathBuf,
    /// The ready line it printed.
    pub ready: String,
}

impl BerthProcess {
    /// Starts `binary server --data-dir DATA_DIR --listen 127.0.0.1:0 EXTRA…` and waits for
    /// its ready line.
    pub async fn start(binary: &Path, data_dir: &Path, extra: &[&str]) -> BerthProcess {
        let mut child = Command::new(binary)
            .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start berth");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let line = lines.next_line().await.expect("read berth's stderr");
                let line = line.expect("berth exited before it was ready");
                if line.starts_with("berth: ready in ") {
                    break line;
                }
            }
        })
        .await
        .expect("berth ready within 30 s");
        // Keep draining stderr so berth never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        BerthProcess { child, data_dir: data_dir.to_owned(), ready }
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The admin kubeconfig it wrote.
    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir.join("kubeconfig.yaml")
    }

    /// Kills it with SIGKILL (no shutdown code runs, as in a crash or an OOM kill) and waits
    /// until it is gone, so its data dir lock is free for a successor.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("SIGKILL berth");
    }

    /// Stops it with SIGTERM and waits for it to exit.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
    }
}
