//! Resource request paths and query parameters, parsed as kube-apiserver's `RequestInfo` does.
//!
//! `/api/v1/namespaces/{ns}/{resource}/{name}/{subresource}` and its cluster-scoped and
//! `/apis/{group}/{version}/…` forms become a [`ResourcePath`]; the query string becomes a
//! [`Query`]. Pure functions, unit-tested below.

use std::collections::HashMap;

use berth_api::kinds::{self, ResourceType};

/// Subresources of `namespaces` that follow the namespace name (`namespaces/{name}/status`),
/// as opposed to a resource inside the namespace (`namespaces/{ns}/pods`).
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// What a resource path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourcePath {
    pub(crate) resource: &'static ResourceType,
    /// For namespaced resources; `None` means all namespaces (lists and watches only).
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) subresource: Option<String>,
}

/// Parses a resource path. `None` when the path names no served resource (a 404): neither a
/// static kind nor one of the `custom` resources.
pub(crate) fn parse_path(path: &str, custom: &crate::crds::Served) -> Option<ResourcePath> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, mut rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let mut namespace = None;
    if let ["namespaces", ns, more @ ..] = rest
        && let [next, ..] = more
        && !NAMESPACE_SUBRESOURCES.contains(next)
    {
        namespace = Some((*ns).to_owned());
        rest = more;
    }
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(*name), None),
        [plural, name, sub] => (*plural, Some(*name), Some(*sub)),
        _ => return None,
    };
    if plural.is_empty() || name.is_some_and(str::is_empty) {
        return None;
    }
    let resource =
        kinds::find(group, version, plural).or_else(|| custom.find(group, version, plural))?;
    if let Some(sub) = subresource
        && resource.subresource(sub).is_none()
    {
        return None;
    }
    // A namespaced resource by name needs its namespace; a cluster-scoped one has none.
    if resource.namespaced() {
        if name.is_some() && namespace.is_none() {
            return None;
        }
    } else if namespace.is_some() {
        return None;
    }
    Some(ResourcePath {
        resource,
        namespace,
        name: name.map(str::to_owned),
        subresource: subresource.map(str::to_owned),
    })
}

/// The decoded query string. Repeated keys keep the last value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    params: HashMap<String, String>,
}

impl Query {
    pub(crate) fn parse(query: Option<&str>) -> Query {
        let mut params = HashMap::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.insert(percent_decode(key), percent_decode(value));
        }
        Query { params }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A boolean parameter: `true`, `1` (as Kubernetes accepts for `watch`).
    pub(crate) fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    /// `dryRun=All`.
    pub(crate) fn dry_run(&self) -> bool {
        self.get("dryRun") == Some("All")
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (resource, namespace, name, subresource)
    type Parsed = (String, Option<String>, Option<String>, Option<String>);

    fn path(p: &str) -> Option<Parsed> {
        parse_path(p, &crate::crds::Served::default())
            .map(|r| (r.resource.plural.to_owned(), r.namespace, r.name, r.subresource))
    }

    fn some(
        plural: &str,
        ns: Option<&str>,
        name: Option<&str>,
        sub: Option<&str>,
    ) -> Option<Parsed> {
        Some((
            plural.to_owned(),
            ns.map(str::to_owned),
            name.map(str::to_owned),
            sub.map(str::to_owned),
        ))
    }

    #[test]
    fn paths_parse_like_kube_apiserver() {
        let cases = [
            ("/api/v1/pods", some("pods", None, None, None)),
            ("/api/v1/namespaces/default/pods", some("pods", Some("default"), None, None)),
            (
                "/api/v1/namespaces/default/pods/web-0",
                some("pods", Some("default"), Some("web-0"), None),
            ),
            (
                "/api/v1/namespaces/default/pods/web-0/status",
                some("pods", Some("default"), Some("web-0"), Some("status")),
            ),
            ("/api/v1/namespaces", some("namespaces", None, None, None)),
            ("/api/v1/namespaces/kube-system", some("namespaces", None, Some("kube-system"), None)),
            (
                "/api/v1/namespaces/kube-system/status",
                some("namespaces", None, Some("kube-system"), Some("status")),
            ),
            ("/api/v1/nodes/n1", some("nodes", None, Some("n1"), None)),
            (
                "/apis/apps/v1/namespaces/s/statefulsets/web/scale",
                some("statefulsets", Some("s"), Some("web"), Some("scale")),
            ),
            ("/apis/storage.k8s.io/v1/storageclasses", some("storageclasses", None, None, None)),
            // Not resources, or not served.
            ("/api/v1/pods/web-0", None),
            ("/api/v1/namespaces/x/nodes", None),
            ("/api/v1/namespaces/x/pods/a/b/c", None),
            ("/api/v1/frobs", None),
            ("/apis/apps/v2/statefulsets", None),
            ("/api/v1/namespaces/x/pods/web-0/nosuch", None),
            ("/healthz", None),
        ];
        for (input, expected) in cases {
            assert_eq!(path(input), expected, "{input}");
        }
    }

    #[test]
    fn queries_decode_selectors() {
        let q =
            Query::parse(Some("labelSelector=app%3Dnginx%2Ctier+in+%28a%2Cb%29&watch=1&limit="));
        assert_eq!(q.get("labelSelector"), Some("app=nginx,tier in (a,b)"));
        assert!(q.flag("watch"));
        assert_eq!(q.get("limit"), None);
        assert!(!Query::parse(None).flag("watch"));
        assert_eq!(Query::parse(Some("a=%zz%4")).get("a"), Some("%zz%4"));
    }
}
