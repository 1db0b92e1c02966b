//! Discovery endpoints: `/api`, `/apis` (aggregated and legacy) and the per-group-version
//! resource lists (being written).

/// The discovery routes, to merge into the server's router.
#[allow(dead_code, reason = "wired into the router by the server module")]
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    axum::Router::new()
}
