//! A real etcd server for tests and benchmarks: [`EtcdProcess`] runs `etcd` from `PATH` in a temp
//! dir on free loopback ports, waits until it is healthy, and kills it when dropped.
//!
//! [`EtcdProcess::kill`] and [`EtcdProcess::restart`] let crash tests stop etcd abruptly and bring
//! it back on the same data dir and ports, so durability can be checked across the crash.

use std::{
    fs::{File, OpenOptions},
    io,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::Duration,
};

use tempfile::TempDir;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::{Instant, sleep, timeout},
};

/// The binary to run, found through `PATH`.
const ETCD_BINARY: &str = "etcd";

/// How long etcd gets to answer `/health` after it was spawned.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times [`EtcdProcess::start`] picks fresh ports and tries again when etcd does not come
/// up (usually because another process took a port between picking and binding it).
const START_ATTEMPTS: usize = 4;

/// What can go wrong starting or restarting etcd.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the `etcd` binary was not found on PATH (install etcd-server)")]
    BinaryNotFound,
    #[error("could not {action}")]
    Io {
        action: String,
        #[source]
        source: io::Error,
    },
    #[error("etcd exited during startup ({status}); its log is {}:\n{log_tail}", log.display())]
    Exited { status: ExitStatus, log: PathBuf, log_tail: String },
    #[error("etcd did not become healthy within {timeout:?}; its log is {}:\n{log_tail}", log.display())]
    Unhealthy { timeout: Duration, log: PathBuf, log_tail: String },
}

/// A running etcd, a single member named `default`, listening on `127.0.0.1` only.
///
/// Dropping it kills etcd (SIGKILL), reaps it and deletes its data dir.
#[derive(Debug)]
pub struct EtcdProcess {
    /// Holds the data dir and the log; deleted on drop, after the process is dead.
    dir: TempDir,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

impl EtcdProcess {
    /// Starts etcd on fresh ports and waits (at most about 10 s per attempt) until it is healthy.
    pub async fn start() -> Result<EtcdProcess, Error> {
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("berth-etcd-")
                .tempdir()
                .map_err(|source| Error::Io { action: "create a temp dir".into(), source })?;
            let (client_port, peer_port) = free_ports()?;
            let mut etcd = EtcdProcess { dir, client_port, peer_port, child: None };
            match etcd.spawn_and_wait().await {
                Ok(()) => return Ok(etcd),
                // Missing binary or an unwritable temp dir will not get better with new ports.
                Err(error @ (Error::BinaryNotFound | Error::Io { .. })) => return Err(error),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or(Error::BinaryNotFound))
    }

    /// The client URL, `http://127.0.0.1:<port>` (with the scheme).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// The data dir etcd runs on; it survives [`EtcdProcess::kill`] and
    /// [`EtcdProcess::restart`].
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The file etcd's stdout and stderr go to (appended to across restarts).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    /// Whether etcd is running (not killed by [`EtcdProcess::kill`]). Does not notice a crash.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills etcd with SIGKILL, as a crash would, and reaps it. The data dir stays; a no-op if
    /// etcd is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error means it has already exited; `wait` reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts etcd again on the same data dir and ports (killing it first if it still runs) and
    /// waits until it is healthy.
    pub async fn restart(&mut self) -> Result<(), Error> {
        self.kill();
        // The ports are fixed now: clients hold them. Retry briefly in case the kernel has not
        // released them yet.
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match self.spawn_and_wait().await {
                Ok(()) => return Ok(()),
                Err(error @ (Error::BinaryNotFound | Error::Io { .. })) => return Err(error),
                Err(error) => last_error = Some(error),
            }
            sleep(Duration::from_millis(200)).await;
        }
        Err(last_error.unwrap_or(Error::BinaryNotFound))
    }

    // === startup ===

    async fn spawn_and_wait(&mut self) -> Result<(), Error> {
        let child = self.spawn()?;
        self.child = Some(child);
        let result = self.wait_healthy().await;
        if result.is_err() {
            self.kill();
        }
        result
    }

    fn spawn(&self) -> Result<Child, Error> {
        let log = self.open_log()?;
        let log_err = log.try_clone().map_err(|source| Error::Io {
            action: "duplicate the etcd log handle".into(),
            source,
        })?;
        let client_url = format!("http://127.0.0.1:{}", self.client_port);
        let peer_url = format!("http://127.0.0.1:{}", self.peer_port);
        Command::new(ETCD_BINARY)
            .arg("--name")
            .arg("default")
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--listen-client-urls")
            .arg(&client_url)
            .arg("--advertise-client-urls")
            .arg(&client_url)
            .arg("--listen-peer-urls")
            .arg(&peer_url)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer_url)
            .arg("--initial-cluster")
            .arg(format!("default={peer_url}"))
            .arg("--initial-cluster-state")
            .arg("new")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => Error::BinaryNotFound,
                _ => Error::Io { action: format!("spawn {ETCD_BINARY}"), source },
            })
    }

    fn open_log(&self) -> Result<File, Error> {
        OpenOptions::new().create(true).append(true).open(self.log_path()).map_err(|source| {
            Error::Io { action: format!("open {}", self.log_path().display()), source }
        })
    }

    async fn wait_healthy(&mut self) -> Result<(), Error> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(Error::Exited {
                    status,
                    log: self.log_path(),
                    log_tail: log_tail(&self.log_path()),
                });
            }
            if is_healthy(self.client_port).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Unhealthy {
                    timeout: STARTUP_TIMEOUT,
                    log: self.log_path(),
                    log_tail: log_tail(&self.log_path()),
                });
            }
            sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        // Kill before the TempDir field is dropped, so etcd is not writing while it is deleted.
        self.kill();
    }
}

/// Two distinct free loopback ports. Both listeners are held until both ports are known, then
/// released for etcd to bind; someone else may take one meanwhile, which `start` retries.
fn free_ports() -> Result<(u16, u16), Error> {
    let bind = || {
        TcpListener::bind(("127.0.0.1", 0))
            .and_then(|listener| Ok((listener.local_addr()?.port(), listener)))
            .map_err(|source| Error::Io { action: "bind a free loopback port".into(), source })
    };
    let (client_port, _client) = bind()?;
    let (peer_port, _peer) = bind()?;
    Ok((client_port, peer_port))
}

/// Whether etcd answers `GET /health` on its client port with `"health":"true"`.
async fn is_healthy(port: u16) -> bool {
    let probe = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        io::Result::Ok(response)
    };
    match timeout(Duration::from_secs(1), probe).await {
        Ok(Ok(response)) => {
            let response = String::from_utf8_lossy(&response);
            response.starts_with("HTTP/1.1 200") && response.contains(r#""health":"true""#)
        }
        _ => false,
    }
}

/// The last lines of the log, for error messages.
fn log_tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
