//! The Kubernetes object model berth serves (being written).
