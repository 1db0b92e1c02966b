//! Dev-only test harness: starts real components (etcd, ...) in temp dirs on loopback.

pub mod etcd;
