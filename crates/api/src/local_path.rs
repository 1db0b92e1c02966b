//! The names of the local-path volume contract between the volume controller (which provisions
//! the PVs) and each node's kubelet (which owns the directories): see ARCHITECTURE.md.

/// The provisioner of the default `local-path` StorageClass, and the finalizer a kubelet
/// removes once it has deleted a volume's directory.
pub const PROVISIONER: &str = "berth.dev/local-path";

/// The PV annotation naming the provisioner that made it.
pub const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";

/// The Node annotation: the absolute directory the node's local-path volumes live in.
pub const STORAGE_DIR: &str = "berth.dev/storage-dir";
