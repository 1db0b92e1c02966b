"""The group-versions berth serves (crates/api/src/kinds.rs), for the generators that reduce
Kubernetes' v1.33 definitions to what those group-versions need."""

GROUPS = {
    ("", "v1"),
    ("apps", "v1"),
    ("storage.k8s.io", "v1"),
    ("coordination.k8s.io", "v1"),
    ("events.k8s.io", "v1"),
    ("discovery.k8s.io", "v1"),
    ("autoscaling", "v1"),
    ("autoscaling", "v2"),
    ("batch", "v1"),
    ("networking.k8s.io", "v1"),
    ("policy", "v1"),
    ("scheduling.k8s.io", "v1"),
    ("authentication.k8s.io", "v1"),
    ("authorization.k8s.io", "v1"),
    ("rbac.authorization.k8s.io", "v1"),
    ("apiextensions.k8s.io", "v1"),
    ("node.k8s.io", "v1"),
}
