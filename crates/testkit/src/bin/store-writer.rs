//! Crash-test writer: creates keys as fast as it can and prints each one the store acknowledged.
//!
//! `store-writer sqlite PATH` or `store-writer etcd ENDPOINT PREFIX`. Each stdout line is
//! `KEY REVISION`, written only after the store answered the create, so a line that reached the
//! parent is an acknowledged write. The parent kills this process with SIGKILL at a random
//! moment and checks that every printed key survived.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "stdout is this program's protocol with the test; usage goes to stderr"
)]

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use berth_store::{EtcdConfig, EtcdStore, SqliteStore, Store};
use bytes::Bytes;

const WRITERS: usize = 8;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let store: Arc<dyn Store> = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["sqlite", path] => Arc::new(SqliteStore::open(path.as_ref()).expect("open sqlite store")),
        ["etcd", endpoint, prefix] => Arc::new(
            EtcdStore::connect(EtcdConfig {
                endpoints: vec![endpoint.to_owned()],
                prefix: prefix.to_owned(),
            })
            .await
            .expect("connect to etcd"),
        ),
        _ => {
            eprintln!("usage: store-writer sqlite PATH | store-writer etcd ENDPOINT PREFIX");
            std::process::exit(2);
        }
    };
    let stdout = Arc::new(Mutex::new(std::io::stdout()));
    let run = std::process::id();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = store.clone();
            let stdout = stdout.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("/crash/{run}/{writer}/{i:08}");
                    let kv = store.create(&key, Bytes::from(key.clone())).await.expect("create");
                    let mut out = stdout.lock().unwrap();
                    writeln!(out, "{key} {}", kv.mod_revision).expect("stdout");
                    out.flush().expect("stdout");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }
}
