"""The Python `kubernetes` client (from PyPI) against berth's custom resources: a CRD created
through ApiextensionsV1Api and established, its objects through CustomObjectsApi (create,
list with a label selector, merge patch, status, watch, delete), a schema refusal as a 422.
Run by tests/python.rs with KUBECONFIG set; prints "ok" when every check passed."""
import json
import os
import threading
import time

from kubernetes import client, config, watch

config.load_kube_config(config_file=os.environ["KUBECONFIG"])
extensions = client.ApiextensionsV1Api()
objects = client.CustomObjectsApi()

GROUP, VERSION, PLURAL = "example.berth.dev", "v1", "databases"
definition = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "database", "kind": "Database", "shortNames": ["db"]},
        "versions": [{
            "name": VERSION,
            "served": True,
            "storage": True,
            "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "properties": {
                            "engine": {"type": "string", "enum": ["postgres", "mysql"]},
                            "storage": {"type": "string"},
                        },
                    },
                    "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                },
            }},
        }],
    },
}
extensions.create_custom_resource_definition(definition)
for _ in range(100):
    crd = extensions.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
    conditions = {c.type: c.status for c in (crd.status.conditions or [])}
    if conditions.get("Established") == "True":
        break
    time.sleep(0.1)
else:
    raise AssertionError(f"the CRD was not established: {crd.status}")
assert crd.status.accepted_names.short_names == ["db"], crd.status.accepted_names

events = []


def watcher():
    w = watch.Watch()
    stream = w.stream(objects.list_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, timeout_seconds=20)
    for event in stream:
        events.append((event["type"], event["object"]["metadata"]["name"]))
        if event["type"] == "DELETED":
            w.stop()


thread = threading.Thread(target=watcher)
thread.start()
time.sleep(1)

body = {
    "apiVersion": f"{GROUP}/{VERSION}",
    "kind": "Database",
    "metadata": {"name": "orders", "labels": {"team": "shop"}},
    "spec": {"engine": "postgres", "storage": "10Gi"},
}
created = objects.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)
assert created["metadata"]["generation"] == 1 and created["metadata"]["uid"], created

listed = objects.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, label_selector="team=shop")
assert [o["metadata"]["name"] for o in listed["items"]] == ["orders"], listed

patched = objects.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "orders", {"spec": {"storage": "20Gi"}})
assert patched["spec"] == {"engine": "postgres", "storage": "20Gi"}, patched["spec"]
assert patched["metadata"]["generation"] == 2, patched["metadata"]

status = objects.patch_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, "orders", {"status": {"phase": "Ready"}})
assert status["status"] == {"phase": "Ready"} and status["metadata"]["generation"] == 2, status

try:
    bad = dict(body, metadata={"name": "broken"}, spec={"engine": "oracle"})
    objects.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, bad)
    raise AssertionError("an engine outside the enum must be refused")
except client.exceptions.ApiException as error:
    assert error.status == 422, error
    message = json.loads(error.body)["message"]
    expected = 'Database.example.berth.dev "broken" is invalid: spec.engine: Unsupported value: "oracle": supported values: "postgres", "mysql"'
    assert message == expected, message

objects.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "orders")
thread.join(30)
assert events == [("ADDED", "orders"), ("MODIFIED", "orders"), ("MODIFIED", "orders"), ("DELETED", "orders")], events
print("ok")
