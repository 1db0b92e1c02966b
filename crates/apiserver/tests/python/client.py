"""The Python `kubernetes` client (from PyPI) against berth: list, watch, create a StatefulSet,
patch, read, delete. Run by tests/python.rs with KUBECONFIG set; prints "ok" when every check
passed, and fails with an assertion otherwise."""
import os
import threading
import time

from kubernetes import client, config, watch

config.load_kube_config(config_file=os.environ["KUBECONFIG"])
core = client.CoreV1Api()
apps = client.AppsV1Api()

names = [n.metadata.name for n in core.list_namespace().items]
assert names == ["default", "kube-node-lease", "kube-public", "kube-system"], names

ns = "pyclient"
core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))

events = []


def watcher():
    w = watch.Watch()
    for event in w.stream(apps.list_namespaced_stateful_set, ns, timeout_seconds=20):
        events.append((event["type"], event["object"].metadata.name, event["object"].spec.replicas))
        if event["type"] == "DELETED":
            w.stop()


thread = threading.Thread(target=watcher)
thread.start()
time.sleep(1)

labels = {"app": "web"}
statefulset = client.V1StatefulSet(
    metadata=client.V1ObjectMeta(name="web", labels=labels),
    spec=client.V1StatefulSetSpec(
        service_name="web",
        replicas=2,
        selector=client.V1LabelSelector(match_labels=labels),
        template=client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels=labels),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx:1.27")]),
        ),
    ),
)
created = apps.create_namespaced_stateful_set(ns, statefulset)
assert created.metadata.uid and created.metadata.resource_version, created.metadata
assert created.spec.pod_management_policy == "OrderedReady", created.spec
assert created.spec.template.spec.containers[0].image_pull_policy == "IfNotPresent"

patched = apps.patch_namespaced_stateful_set("web", ns, {"spec": {"replicas": 4}})
assert patched.spec.replicas == 4, patched.spec
assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)

read = apps.read_namespaced_stateful_set("web", ns)
assert read.spec.replicas == 4 and read.metadata.generation == 2, (read.spec, read.metadata)
listed = apps.list_namespaced_stateful_set(ns, label_selector="app=web")
assert [s.metadata.name for s in listed.items] == ["web"]

try:
    apps.read_namespaced_stateful_set("nope", ns)
    raise AssertionError("reading a missing StatefulSet must fail")
except client.exceptions.ApiException as error:
    assert error.status == 404, error

apps.delete_namespaced_stateful_set("web", ns)
thread.join(30)
assert events == [("ADDED", "web", 2), ("MODIFIED", "web", 4), ("DELETED", "web", 4)], events
print("ok")
