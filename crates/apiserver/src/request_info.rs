//! What a request asks to do, for authorization: kube-apiserver's `RequestInfo`
//! (`staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`) as the authorizer's
//! [`Attributes`].
//!
//! Every path is classified, served or not: `/api/{version}/…` and
//! `/apis/{group}/{version}/…` with at least a resource are resource requests (verb from the
//! method; a GET without a name is `list`, or `watch` with `?watch=`; a DELETE without one is
//! `deletecollection`; the legacy `/watch/` prefix is `watch`), everything else (`/api`,
//! `/apis/apps/v1`, `/version`, `/metrics`) a non-resource request whose verb is the
//! lowercase method. Pure; unit-tested below.

use berth_api::rbac::{Attributes, Target};

/// `namespaceSubresources`: what follows `namespaces/{name}` as a subresource rather than a
/// resource in the namespace.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// The attributes of a request with `method` on `path` and the raw `query`.
pub(crate) fn attributes(method: &str, path: &str, query: Option<&str>) -> Attributes {
    let non_resource = || Attributes {
        verb: method.to_ascii_lowercase(),
        target: Target::NonResource { path: path.to_owned() },
    };
    let trimmed = path.trim_matches('/');
    let parts: Vec<&str> =
        if trimmed.is_empty() { Vec::new() } else { trimmed.split('/').collect() };
    let (api_group, mut rest) = match parts.as_slice() {
        ["api", rest @ ..] if rest.len() >= 2 => ("", &rest[1..]),
        ["apis", group, rest @ ..] if rest.len() >= 2 => (*group, &rest[1..]),
        _ => return non_resource(),
    };
    let mut verb = match method {
        "POST" => "create",
        "GET" | "HEAD" => "get",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => "",
    };
    // `/api/v1/watch/…` and `/api/v1/proxy/…`, the special verbs.
    if let [special @ ("watch" | "proxy"), more @ ..] = rest {
        if more.is_empty() {
            // kube-apiserver cannot tell kind and namespace apart here; nothing matches it.
            return Attributes {
                verb: (*special).to_owned(),
                target: Target::Resource {
                    api_group: api_group.to_owned(),
                    resource: String::new(),
                    subresource: String::new(),
                    name: String::new(),
                    namespace: String::new(),
                },
            };
        }
        verb = special;
        rest = more;
    }
    let mut namespace = "";
    if let ["namespaces", ns, more @ ..] = rest {
        namespace = ns;
        if let [next, ..] = more
            && !NAMESPACE_SUBRESOURCES.contains(next)
        {
            rest = more;
        }
    }
    let resource = rest.first().copied().unwrap_or_default();
    let name = rest.get(1).copied().unwrap_or_default();
    let subresource = if verb == "proxy" { "" } else { rest.get(2).copied().unwrap_or_default() };
    if name.is_empty() && verb == "get" {
        verb = match query_value(query, "watch") {
            Some(value) if !matches!(value.to_ascii_lowercase().as_str(), "false" | "0") => "watch",
            _ => "list",
        };
    }
    if name.is_empty() && verb == "delete" {
        verb = "deletecollection";
    }
    Attributes {
        verb: verb.to_owned(),
        target: Target::Resource {
            api_group: api_group.to_owned(),
            resource: resource.to_owned(),
            subresource: subresource.to_owned(),
            name: name.to_owned(),
            namespace: namespace.to_owned(),
        },
    }
}

/// The first value of `key` in a raw query string (present but empty is `Some("")`).
fn query_value<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(verb: &str, group: &str, res: &str, sub: &str, name: &str, ns: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            target: Target::Resource {
                api_group: group.into(),
                resource: res.into(),
                subresource: sub.into(),
                name: name.into(),
                namespace: ns.into(),
            },
        }
    }

    fn path(verb: &str, path: &str) -> Attributes {
        Attributes { verb: verb.into(), target: Target::NonResource { path: path.into() } }
    }

    #[test]
    fn requests_parse_like_request_info_go() {
        let cases = [
            (
                "GET",
                "/api/v1/namespaces/default/pods",
                None,
                resource("list", "", "pods", "", "", "default"),
            ),
            (
                "GET",
                "/api/v1/namespaces/default/pods",
                Some("watch=true"),
                resource("watch", "", "pods", "", "", "default"),
            ),
            (
                "GET",
                "/api/v1/namespaces/default/pods",
                Some("watch=0"),
                resource("list", "", "pods", "", "", "default"),
            ),
            (
                "GET",
                "/api/v1/namespaces/default/pods",
                Some("watch"),
                resource("watch", "", "pods", "", "", "default"),
            ),
            ("GET", "/api/v1/pods", None, resource("list", "", "pods", "", "", "")),
            (
                "GET",
                "/api/v1/namespaces/default/pods/web-0",
                None,
                resource("get", "", "pods", "", "web-0", "default"),
            ),
            (
                "HEAD",
                "/api/v1/namespaces/default/pods/web-0",
                None,
                resource("get", "", "pods", "", "web-0", "default"),
            ),
            (
                "PUT",
                "/api/v1/namespaces/default/pods/web-0/status",
                None,
                resource("update", "", "pods", "status", "web-0", "default"),
            ),
            (
                "POST",
                "/api/v1/namespaces/default/pods/web-0/exec",
                None,
                resource("create", "", "pods", "exec", "web-0", "default"),
            ),
            (
                "GET",
                "/api/v1/namespaces/default/pods/web-0/log",
                None,
                resource("get", "", "pods", "log", "web-0", "default"),
            ),
            (
                "POST",
                "/api/v1/namespaces/default/pods",
                None,
                resource("create", "", "pods", "", "", "default"),
            ),
            (
                "DELETE",
                "/api/v1/namespaces/default/pods",
                None,
                resource("deletecollection", "", "pods", "", "", "default"),
            ),
            (
                "DELETE",
                "/api/v1/namespaces/default/pods/a",
                None,
                resource("delete", "", "pods", "", "a", "default"),
            ),
            (
                "PATCH",
                "/apis/apps/v1/namespaces/s/statefulsets/web/scale",
                None,
                resource("patch", "apps", "statefulsets", "scale", "web", "s"),
            ),
            // Namespaces themselves: the name is the namespace too.
            ("GET", "/api/v1/namespaces", None, resource("list", "", "namespaces", "", "", "")),
            (
                "GET",
                "/api/v1/namespaces/kube-system",
                None,
                resource("get", "", "namespaces", "", "kube-system", "kube-system"),
            ),
            (
                "PUT",
                "/api/v1/namespaces/x/finalize",
                None,
                resource("update", "", "namespaces", "finalize", "x", "x"),
            ),
            (
                "PUT",
                "/api/v1/namespaces/x/status",
                None,
                resource("update", "", "namespaces", "status", "x", "x"),
            ),
            (
                "GET",
                "/apis/storage.k8s.io/v1/storageclasses/local-path",
                None,
                resource("get", "storage.k8s.io", "storageclasses", "", "local-path", ""),
            ),
            (
                "POST",
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                None,
                resource("create", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", ""),
            ),
            // The legacy watch prefix.
            (
                "GET",
                "/api/v1/watch/namespaces/d/pods",
                None,
                resource("watch", "", "pods", "", "", "d"),
            ),
            (
                "GET",
                "/api/v1/watch/namespaces/d/pods/p",
                None,
                resource("watch", "", "pods", "", "p", "d"),
            ),
            // Unserved resources are still resources.
            (
                "GET",
                "/apis/batch/v1/namespaces/d/jobs",
                None,
                resource("list", "batch", "jobs", "", "", "d"),
            ),
            // Non-resource requests.
            ("GET", "/api", None, path("get", "/api")),
            ("GET", "/api/v1", None, path("get", "/api/v1")),
            ("GET", "/apis", None, path("get", "/apis")),
            ("GET", "/apis/apps", None, path("get", "/apis/apps")),
            ("GET", "/apis/apps/v1", None, path("get", "/apis/apps/v1")),
            ("GET", "/version", None, path("get", "/version")),
            ("GET", "/metrics", None, path("get", "/metrics")),
            ("POST", "/openapi/v3", None, path("post", "/openapi/v3")),
            ("GET", "/", None, path("get", "/")),
            ("GET", "/healthz/ping", None, path("get", "/healthz/ping")),
        ];
        for (method, p, query, expected) in cases {
            assert_eq!(attributes(method, p, query), expected, "{method} {p} {query:?}");
        }
    }
}
