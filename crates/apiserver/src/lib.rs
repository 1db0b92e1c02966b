//! The Kubernetes API server (being written).

mod discovery;
