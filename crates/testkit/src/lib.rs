//! Dev-only test harness: an in-process cluster ([`cluster::Cluster`]) and real components
//! (etcd, kubectl, a `berth server` process, ...) started in temp dirs on loopback.

pub mod cluster;
pub mod etcd;
pub mod kubectl;
