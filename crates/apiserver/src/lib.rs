//! The Kubernetes API server: HTTPS, authentication, health, version, metrics, discovery, and
//! the generic resource handlers (create, get, list, watch, update, merge/JSON patch, delete).
//!
//! Entry point: [`start`] with an [`ApiServerConfig`] and a store. It prepares the PKI and the
//! admin kubeconfig in the data dir (`pki.rs`), binds, and serves in a spawned task
//! (`server.rs`). Requests pass, outermost first: `metrics::observe` (span, counters),
//! `auth::authenticate` (client certificate or bearer token, else 401),
//! `authz::authorize` (impersonation, then RBAC: `rbac.rs`, else 403), `body::limit`
//! (3 MiB), then the routes in `router.rs`; every resource path falls through to
//! `resources::serve`. Every error answer is a `status::Status`.

mod access_review;
mod admission;
mod allocator;
mod apply;
mod auth;
mod authz;
mod body;
mod conversion;
mod crds;
mod decoded;
mod deletion;
mod discovery;
mod events;
mod eviction;
mod follower;
mod instrumented;
mod metrics;
mod objects;
mod oidc;
mod openapi;
mod patch;
mod pki;
mod protobuf;
mod quota;
mod rbac;
mod request;
mod request_info;
mod resources;
mod router;
mod scale;
mod server;
mod status;
mod strict;
mod subresources;
mod table;
mod token_review;
mod tokens;
mod x509;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use allocator::{InvalidCidr, ServiceCidr};
pub use server::{ApiServer, ApiServerConfig, LocalService, start};

/// Why the API server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file of an existing PKI is gone. Never replaced silently: kubeconfigs rely on the CA.
    #[error(
        "{} is missing; restore it, or remove {} to start over with a new CA (which invalidates \
         every kubeconfig issued so far)",
        path.display(),
        dir.display()
    )]
    Missing { path: PathBuf, dir: PathBuf },
    /// A file exists but does not hold what it should.
    #[error("{} is not a valid {what}", path.display())]
    Corrupt {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The CA key signs certificates its own certificate does not verify.
    #[error("{} does not match {}", key.display(), cert.display())]
    CaMismatch {
        key: PathBuf,
        cert: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("cannot issue the {what} certificate")]
    Issue {
        what: &'static str,
        #[source]
        source: rcgen::Error,
    },
    #[error("the system random number generator failed")]
    Random,
    #[error("cannot build a certificate verifier from the CA")]
    Verifier {
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
    #[error("cannot configure TLS")]
    Tls {
        #[source]
        source: rustls::Error,
    },
    #[error("cannot create the built-in namespaces and the kubernetes Service")]
    Store {
        #[source]
        source: berth_store::Error,
    },
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Whether the data dir holds something unusable (a damaged or missing PKI file), which
    /// the user must fix, as opposed to a failure of the machine.
    pub fn is_bad_data(&self) -> bool {
        matches!(self, Error::Missing { .. } | Error::Corrupt { .. } | Error::CaMismatch { .. })
    }
}
