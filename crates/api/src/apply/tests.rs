//! Table-driven tests of field sets, merges, pruning, conflicts and managedFields entries.

use serde_json::{Value, json};

use super::*;

const T0: &str = "2026-01-01T00:00:00Z";
const T1: &str = "2026-01-01T00:01:00Z";

fn writer<'a>(kind: &'a str, manager: &'a str, now: &'a str) -> Writer<'a> {
    let (group, reset): (&str, &[&str]) = match kind {
        "StatefulSet" => ("apps", &["status"]),
        "Service" | "Pod" => ("", &["status"]),
        _ => ("", &[]),
    };
    Writer { group, version: "v1", kind, manager, subresource: "", reset, now }
}

fn fields_of(object: &Value, manager: &str) -> Value {
    let entries = object.pointer("/metadata/managedFields").and_then(Value::as_array);
    entries
        .and_then(|list| list.iter().find(|e| e["manager"] == manager))
        .map(|e| e["fieldsV1"].clone())
        .unwrap_or(Value::Null)
}

fn sts(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "nginx"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": image,
                                          "ports": [{"containerPort": 80, "name": "web"}]}]}
            }
        }
    })
}

#[test]
fn field_sets_follow_the_schema() {
    struct Case {
        name: &'static str,
        kind: &'static str,
        config: Value,
        fields: Value,
    }
    let cases = [
        Case {
            name: "structs are paths, map keys and list items members, identity ignored, selectors atomic",
            kind: "StatefulSet",
            config: sts(3, "nginx:1"),
            fields: json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                            ".": {}, "f:image": {}, "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                                ".": {}, "f:containerPort": {}, "f:name": {}}}}}}
                    }
                }
            }),
        },
        Case {
            name: "sets by value, atomic lists whole, empty structs as leaves, status reset",
            kind: "Pod",
            config: json!({"metadata": {"finalizers": ["a", "b"]},
                           "spec": {"containers": [{"name": "c", "args": ["x", "y"], "resources": {}}]},
                           "status": {"phase": "Running"}}),
            fields: json!({
                "f:metadata": {"f:finalizers": {"v:\"a\"": {}, "v:\"b\"": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
                    ".": {}, "f:args": {}, "f:name": {}, "f:resources": {}}}}
            }),
        },
        Case {
            name: "service ports are keyed by port and protocol (defaulted)",
            kind: "Service",
            config: json!({"spec": {"ports": [{"port": 80, "name": "web"}, {"port": 53, "protocol": "UDP"}],
                                    "clusterIP": "None", "selector": {"app": "nginx"}}}),
            fields: json!({"f:spec": {
                "f:clusterIP": {},
                "f:ports": {
                    "k:{\"port\":53,\"protocol\":\"UDP\"}": {".": {}, "f:port": {}, "f:protocol": {}},
                    "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}}},
                "f:selector": {}}}),
        },
    ];
    for case in cases {
        let applied = apply(&writer(case.kind, "m", T0), None, &case.config, false).unwrap();
        assert_eq!(fields_of(&applied, "m"), case.fields, "{}", case.name);
    }
}

#[test]
fn invalid_configurations_are_errors() {
    let w = writer("Service", "m", T0);
    let no_key = json!({"spec": {"ports": [{"name": "web"}]}});
    let error = apply(&w, None, &no_key, false).unwrap_err();
    assert!(error.to_string().contains("omits key field \"port\""), "{error}");
    assert!(matches!(apply(&w, None, &json!([1]), false), Err(Error::Invalid(_))));
}

#[test]
fn merges_follow_list_and_map_types() {
    struct Case {
        name: &'static str,
        live: Value,
        config: Value,
        merged: Value,
    }
    let pod = |spec: Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec});
    let cases = [
        Case {
            name: "map lists merge items by key and keep the others in place",
            live: pod(
                json!({"containers": [{"name": "a", "image": "a:1", "tty": true}, {"name": "b", "image": "b:1"}]}),
            ),
            config: pod(
                json!({"containers": [{"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]}),
            ),
            merged: pod(
                json!({"containers": [{"name": "a", "image": "a:1", "tty": true}, {"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]}),
            ),
        },
        Case {
            name: "atomic lists are replaced",
            live: pod(json!({"containers": [{"name": "a", "args": ["1", "2"]}]})),
            config: pod(json!({"containers": [{"name": "a", "args": ["3"]}]})),
            merged: pod(json!({"containers": [{"name": "a", "args": ["3"]}]})),
        },
        Case {
            name: "sets take the union",
            live: json!({"metadata": {"name": "p", "finalizers": ["x", "y"]}}),
            config: json!({"metadata": {"name": "p", "finalizers": ["z", "x"]}}),
            merged: json!({"metadata": {"name": "p", "finalizers": ["z", "x", "y"]}}),
        },
        Case {
            name: "nested maps merge key by key; null removes",
            live: json!({"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}, "annotations": {"x": "1"}}}),
            config: json!({"metadata": {"name": "p", "labels": {"b": "3", "c": "4"}, "annotations": {"x": null}}}),
            merged: json!({"metadata": {"name": "p", "labels": {"a": "1", "b": "3", "c": "4"}, "annotations": {}}}),
        },
    ];
    for case in cases {
        let merged = apply(&writer("Pod", "m", T0), Some(&case.live), &case.config, false).unwrap();
        assert_eq!(without_managed(&merged), case.merged, "{}", case.name);
    }
}

#[test]
fn omitted_fields_are_removed_unless_someone_else_owns_them() {
    let first = sts(3, "nginx:1");
    let object = apply(&writer("StatefulSet", "a", T0), None, &first, false).unwrap();
    // Another applier shares the label.
    let shared = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                        "metadata": {"name": "web", "labels": {"app": "nginx"}}});
    let object = apply(&writer("StatefulSet", "b", T0), Some(&object), &shared, false).unwrap();
    // `a` drops the replicas, the label and the container port.
    let mut second = sts(3, "nginx:1");
    second["spec"].as_object_mut().unwrap().remove("replicas");
    second["metadata"].as_object_mut().unwrap().remove("labels");
    second["spec"]["template"]["spec"]["containers"][0].as_object_mut().unwrap().remove("ports");
    let object = apply(&writer("StatefulSet", "a", T1), Some(&object), &second, false).unwrap();
    assert!(object["spec"].get("replicas").is_none(), "only a owned it");
    assert!(object["spec"]["template"]["spec"]["containers"][0].get("ports").is_none());
    assert_eq!(object["metadata"]["labels"], json!({"app": "nginx"}), "b still owns it");
    assert_eq!(fields_of(&object, "b"), json!({"f:metadata": {"f:labels": {"f:app": {}}}}));
}

#[test]
fn conflicts_name_the_owner_and_force_moves_ownership() {
    // kubectl create → an Update entry for every field it set.
    let mut object = sts(3, "nginx:1");
    update(&writer("StatefulSet", "kubectl-client-side-apply", T0), None, &mut object);
    let entries = object["metadata"]["managedFields"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["operation"], "Update");
    assert_eq!(entries[0]["apiVersion"], "apps/v1");
    assert_eq!(entries[0]["time"], T0);
    assert_eq!(
        entries[0]["fieldsV1"]["f:metadata"],
        json!({"f:labels": {".": {}, "f:app": {}}}),
        "an Update owns the maps it created"
    );

    // Applying the same values is no conflict and shares ownership.
    let ssa = writer("StatefulSet", "kubectl", T1);
    let same = apply(&ssa, Some(&object), &sts(3, "nginx:1"), false).unwrap();
    assert_eq!(without_managed(&same), without_managed(&object));
    assert!(fields_of(&same, "kubectl-client-side-apply")["f:spec"].get("f:replicas").is_some());

    // Changing them is.
    let error = apply(&ssa, Some(&object), &sts(5, "nginx:2"), false).unwrap_err();
    let Error::Conflicts(conflicts) = &error else { panic!("{error}") };
    assert_eq!(conflicts.len(), 2);
    assert_eq!(
        error.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image"
    );
    let mut one = sts(5, "nginx:1");
    one["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1");
    let error = apply(&ssa, Some(&object), &one, false).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );

    // Forced, the applier takes the field over.
    let forced = apply(&ssa, Some(&object), &one, true).unwrap();
    assert_eq!(forced["spec"]["replicas"], 5);
    assert!(fields_of(&forced, "kubectl-client-side-apply")["f:spec"].get("f:replicas").is_none());
    assert!(fields_of(&forced, "kubectl")["f:spec"].get("f:replicas").is_some());
    let order: Vec<&str> = forced["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["Apply", "Update"]);
}

#[test]
fn updates_move_changed_fields_to_the_writer() {
    let mut object = sts(3, "nginx:1");
    update(&writer("StatefulSet", "creator", T0), None, &mut object);
    let before = object.clone();
    let mut scaled = object.clone();
    scaled["spec"]["replicas"] = json!(4);
    scaled["metadata"]["labels"]["tier"] = json!("web");
    update(&writer("StatefulSet", "kubectl-edit", T1), Some(&before), &mut scaled);
    assert_eq!(
        fields_of(&scaled, "kubectl-edit"),
        json!({"f:metadata": {"f:labels": {"f:tier": {}}}, "f:spec": {"f:replicas": {}}})
    );
    assert!(fields_of(&scaled, "creator")["f:spec"].get("f:replicas").is_none());

    // A write that changes nothing leaves the entries (and their times) alone.
    let mut again = scaled.clone();
    update(
        &writer("StatefulSet", "kubectl-edit", "2030-01-01T00:00:00Z"),
        Some(&scaled),
        &mut again,
    );
    assert_eq!(again, scaled);

    // Entries for the same manager and operation merge.
    let mut more = scaled.clone();
    more["spec"]["replicas"] = json!(5);
    update(&writer("StatefulSet", "kubectl-edit", T1), Some(&scaled), &mut more);
    assert_eq!(more["metadata"]["managedFields"].as_array().unwrap().len(), 2);
    assert!(fields_of(&more, "kubectl-edit")["f:metadata"].get("f:labels").is_some());

    // `[{}]` strips them all; `[]` keeps the live ones.
    let mut stripped = more.clone();
    stripped["metadata"]["managedFields"] = json!([{}]);
    update(&writer("StatefulSet", "x", T1), Some(&more), &mut stripped);
    assert!(stripped["metadata"].get("managedFields").is_none());
    let mut kept = more.clone();
    kept["metadata"]["managedFields"] = json!([]);
    update(&writer("StatefulSet", "x", T1), Some(&more), &mut kept);
    assert_eq!(kept, more);
}

#[test]
fn subresource_writes_are_separate_entries() {
    let mut object = sts(3, "nginx:1");
    update(&writer("StatefulSet", "creator", T0), None, &mut object);
    let mut status = object.clone();
    status["status"] = json!({"replicas": 3});
    let w = Writer { subresource: "status", reset: &["spec"], ..writer("StatefulSet", "ctrl", T1) };
    update(&w, Some(&object), &mut status);
    let entry = status["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "ctrl")
        .cloned()
        .unwrap();
    assert_eq!(entry["subresource"], "status");
    assert_eq!(entry["fieldsV1"], json!({"f:status": {".": {}, "f:replicas": {}}}));
}

#[test]
fn reapplying_unchanged_changes_nothing() {
    let w = writer("Service", "kubectl", T0);
    let config = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
                        "spec": {"ports": [{"port": 80, "name": "web"}], "clusterIP": "None", "selector": {"app": "nginx"}}});
    let mut created = apply(&w, None, &config, false).unwrap();
    // The server defaults the protocol; the key still matches.
    created["spec"]["ports"][0]["protocol"] = json!("TCP");
    let again = apply(&writer("Service", "kubectl", T1), Some(&created), &config, false).unwrap();
    assert_eq!(again, created);
}

#[test]
fn a_write_that_only_moves_times_keeps_the_old_ones() {
    let mut config = sts(3, "nginx:1");
    config["spec"]["volumeClaimTemplates"] = json!([{"metadata": {"name": "d"}}]);
    let mut live = apply(&writer("StatefulSet", "kubectl", T0), None, &config, false).unwrap();
    // The server defaults inside an atomic list: the re-applied list differs until defaulted.
    live["spec"]["volumeClaimTemplates"][0]["status"] = json!({"phase": "Pending"});
    let mut again =
        apply(&writer("StatefulSet", "kubectl", T1), Some(&live), &config, false).unwrap();
    assert_eq!(again["metadata"]["managedFields"][0]["time"], T1);
    again["spec"]["volumeClaimTemplates"][0]["status"] = json!({"phase": "Pending"});
    keep_times_of_noop(&live, &mut again);
    assert_eq!(again, live);
    // A real change keeps the new time.
    let mut changed = again.clone();
    changed["spec"]["replicas"] = json!(4);
    changed["metadata"]["managedFields"][0]["time"] = json!(T1);
    keep_times_of_noop(&live, &mut changed);
    assert_eq!(changed["metadata"]["managedFields"][0]["time"], T1);
}

/// What the general path of [`update`] records for a create: the comparison with nothing,
/// stripped, as the writer's only entry.
fn create_the_long_way(writer: &Writer<'_>, new: &Value) -> Value {
    let comparison = writer.compare(Some(writer.zero()), new);
    let mut fields = comparison.added;
    fields.union(&comparison.modified);
    let managed = Managed {
        entries: vec![Entry {
            manager: writer.manager.to_owned(),
            operation: Operation::Update,
            api_version: writer.api_version(),
            time: Some(writer.now.to_owned()),
            subresource: writer.subresource.to_owned(),
            fields,
        }],
    };
    let mut out = new.clone();
    managed.encode(&mut out);
    out
}

#[test]
fn creates_record_the_same_fields_as_the_general_path() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "uid": "u", "generation": 1,
                     "labels": {"app": "web", "tier": "x"}, "annotations": {},
                     "creationTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["b", "a", "b"],
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                          "name": "web", "uid": "o", "controller": true}]},
        "spec": {
            "containers": [
                {"name": "web", "image": "nginx", "args": ["a", "b"],
                 "ports": [{"containerPort": 80, "name": "http"},
                           {"containerPort": 53, "protocol": "UDP"},
                           {"containerPort": 80, "name": "dup"}],
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": null}],
                 "resources": {"requests": {"cpu": "250m"}, "limits": {}},
                 "securityContext": null},
                {"name": "side", "image": "busybox", "ports": [{"name": "no-port"}]}
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "tolerations": [],
            "nodeSelector": {"disk": "ssd"}
        },
        "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]}
    });
    let service = json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 80, "protocol": "UDP"}],
                 "selector": {"app": "web"}, "clusterIP": "None"}
    });
    let config_map = json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {}},
        "data": {"a": "1", "b": ""}, "binaryData": {}
    });
    // Keys JSON escapes, in the names and in a set list's values.
    let escaped = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "e",
                         "finalizers": ["q\"uote", "back\\slash", "new\nline", "ü"]},
                         "data": {"a\"b": "1", "c\\d": "2", "e\nf": "3", "\u{1}": "4", "ü": "5"}});
    let only_identity = json!({"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": "c", "namespace": "default"}});
    let unknown = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                         "metadata": {"name": "w"}, "spec": {"list": [1, 2], "deep": {"x": null}}});
    let status_writer =
        Writer { subresource: "status", reset: &["spec"], ..writer("Pod", "kubelet", T0) };
    let cases = [
        (writer("Pod", "kubectl-create", T0), pod.clone()),
        (status_writer, pod),
        (writer("StatefulSet", "kubectl-client-side-apply", T1), sts(3, "nginx")),
        (writer("Service", "m", T0), service),
        (writer("ConfigMap", "m", T0), config_map),
        (writer("ConfigMap", "m\"anager", T0), escaped),
        (writer("ConfigMap", "m", T0), only_identity),
        (Writer { group: "example.com", kind: "Widget", ..writer("x", "m", T0) }, unknown),
    ];
    for (writer, object) in cases {
        let mut fast = object.clone();
        update(&writer, None, &mut fast);
        let slow = create_the_long_way(&writer, &object);
        assert_eq!(
            serde_json::to_string(&fast).unwrap(),
            serde_json::to_string(&slow).unwrap(),
            "{} {}",
            writer.kind,
            writer.subresource
        );
        // The text the API server stores is the list `update` puts in the object.
        let mut bare = object.clone();
        let text = update_created(&writer, &mut bare);
        let recorded = slow.pointer("/metadata/managedFields");
        assert_eq!(
            text.as_ref().map(ManagedText::as_str),
            recorded.map(|list| serde_json::to_string(list).unwrap()).as_deref()
        );
        assert_eq!(text.map(|text| text.to_value()).as_ref(), recorded);
        assert_eq!(bare.pointer("/metadata/managedFields"), None);
        assert_eq!(bare, without_managed(&slow), "nothing else in the object changed");
    }
}

#[test]
fn a_create_with_entries_of_its_own_records_them_in_the_object() {
    let writer = writer("ConfigMap", "m", T0);
    let entry = json!({"manager": "other", "operation": "Update", "apiVersion": "v1",
                       "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}});
    let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "c", "managedFields": [entry]},
                        "data": {"a": "1", "b": "2"}});
    let mut general = object.clone();
    update(&writer, None, &mut general);
    let mut created = object.clone();
    assert_eq!(update_created(&writer, &mut created), None);
    assert_eq!(created, general);
    // The creator took over every field of the supplied entry, which went with them.
    assert_eq!(created["metadata"]["managedFields"][0]["manager"], "m");
    assert_eq!(created["metadata"]["managedFields"].as_array().map(Vec::len), Some(1));
    // Owning nothing: no entry, and no managedFields.
    let nothing = json!({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "c", "managedFields": []}});
    let mut created = nothing.clone();
    assert_eq!(update_created(&writer, &mut created), None);
    assert_eq!(created.pointer("/metadata/managedFields"), None);
}

#[test]
fn the_update_shortcut_records_what_the_general_path_records() {
    // A live object several managers own parts of: a creator, an editor of replicas and a
    // label, an applier, and a status writer.
    let mut live = sts(3, "nginx:1");
    update(&writer("StatefulSet", "creator", T0), None, &mut live);
    let mut edited = live.clone();
    edited["spec"]["replicas"] = json!(4);
    edited["metadata"]["labels"]["tier"] = json!("web");
    update(&writer("StatefulSet", "editor", T0), Some(&live), &mut edited);
    let mut applied_config = sts(4, "nginx:1");
    applied_config["metadata"]["annotations"] = json!({"owner": "team"});
    let mut live =
        apply(&writer("StatefulSet", "kubectl", T0), Some(&edited), &applied_config, true).unwrap();
    let mut with_status = live.clone();
    with_status["status"] = json!({"replicas": 4});
    let status_writer = Writer {
        subresource: "status",
        reset: &["spec", "metadata"],
        ..writer("StatefulSet", "kubelet", T0)
    };
    update(&status_writer, Some(&live), &mut with_status);
    live = with_status;

    type Change = fn(&mut Value);
    let cases: &[(&str, &str, Change, bool)] = &[
        // (manager, subresource, change, takes the shortcut)
        // The apply (forced) took spec.replicas over from the editor.
        ("editor", "", |o| o["spec"]["replicas"] = json!(5), false),
        ("kubectl", "", |o| o["spec"]["replicas"] = json!(5), false),
        ("editor", "", |o| o["metadata"]["labels"]["tier"] = json!("db"), true),
        ("editor", "", |_| {}, true),
        (
            "editor",
            "",
            |o| o["spec"]["template"]["spec"]["containers"][0]["image"] = json!("x"),
            false,
        ),
        ("editor", "", |o| o["metadata"]["labels"]["new"] = json!("y"), false),
        (
            "editor",
            "",
            |o| {
                o["metadata"]["labels"].as_object_mut().unwrap().remove("tier");
            },
            false,
        ),
        ("creator", "", |o| o["spec"]["replicas"] = json!(5), false),
        ("newcomer", "", |o| o["spec"]["serviceName"] = json!("web"), false),
        ("kubelet", "status", |o| o["status"]["replicas"] = json!(5), true),
        ("kubelet", "status", |o| o["status"]["readyReplicas"] = json!(1), false),
    ];
    for (i, (manager, subresource, change, shortcut)) in cases.iter().enumerate() {
        for supplied in ["live", "none", "empty"] {
            let reset: &[&str] =
                if subresource.is_empty() { &["status"] } else { &["spec", "metadata"] };
            let writer = Writer { subresource, reset, ..writer("StatefulSet", manager, T1) };
            let mut new = live.clone();
            change(&mut new);
            match supplied {
                "none" => {
                    new["metadata"].as_object_mut().unwrap().remove("managedFields");
                }
                "empty" => new["metadata"]["managedFields"] = json!([]),
                _ => {}
            }
            let mut short = new.clone();
            update_with(&writer, Some(&live), &mut short, true);
            let mut long = new.clone();
            update_with(&writer, Some(&live), &mut long, false);
            assert_eq!(short, long, "case {i} ({manager}), managedFields {supplied}");
            let mut probe = new.clone();
            let has_list = supplied == "live";
            let comparison = writer.compare(Some(&live), &new);
            let mut changed = comparison.added.clone();
            changed.union(&comparison.modified);
            let took = ownership_unchanged(
                &writer,
                &live,
                &mut probe,
                has_list,
                &changed,
                &comparison.removed,
            );
            assert_eq!(took, *shortcut, "case {i} ({manager}), managedFields {supplied}");
        }
    }
    // A list the client changed is decoded the long way.
    let mut new = live.clone();
    new["spec"]["replicas"] = json!(5);
    new["metadata"]["managedFields"][0]["time"] = json!("2020-01-01T00:00:00Z");
    let comparison = writer("StatefulSet", "editor", T1).compare(Some(&live), &new);
    let mut changed = comparison.added.clone();
    changed.union(&comparison.modified);
    assert!(!ownership_unchanged(
        &writer("StatefulSet", "editor", T1),
        &live,
        &mut new.clone(),
        true,
        &changed,
        &comparison.removed
    ));
}

#[test]
fn the_update_shortcut_leaves_a_list_over_the_cap_to_the_general_path() {
    let mut live = sts(3, "nginx:1");
    update(&writer("StatefulSet", "creator", T0), None, &mut live);
    // Eleven Update entries, as a list stored before the cap existed could hold.
    let entry = live["metadata"]["managedFields"][0].clone();
    let mut list = vec![entry.clone()];
    for i in 0..10 {
        let mut other = entry.clone();
        other["manager"] = json!(format!("old-{i}"));
        other["fieldsV1"] = json!({"f:metadata": {"f:annotations": {format!("f:a{i}"): {}}}});
        list.push(other);
    }
    live["metadata"]["managedFields"] = json!(list);
    let mut new = live.clone();
    new["spec"]["replicas"] = json!(4);
    update(&writer("StatefulSet", "creator", T1), Some(&live), &mut new);
    let entries = new["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(entries.iter().filter(|e| e["operation"] == "Update").count(), 10, "capped");
    assert!(entries.iter().any(|e| e["manager"] == "ancient-changes"));
}

/// What kube-apiserver records for `kubectl run nginx --image=nginx` (the pod as defaulted,
/// before admission): structs of the zero value (`spec`) and its `null` lists (`containers`)
/// do not own themselves; maps created whole (`labels`) and list items do (`.`).
#[test]
fn a_create_owns_what_the_zero_value_lacks() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "nginx", "namespace": "default", "labels": {"run": "nginx"}},
        "spec": {
            "containers": [{"name": "nginx", "image": "nginx", "imagePullPolicy": "Always",
                            "resources": {}, "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File"}],
            "dnsPolicy": "ClusterFirst", "enableServiceLinks": true, "restartPolicy": "Always",
            "schedulerName": "default-scheduler", "securityContext": {},
            "terminationGracePeriodSeconds": 30
        }
    });
    let mut created = pod.clone();
    update(&writer("Pod", "kubectl-run", T0), None, &mut created);
    assert_eq!(
        created["metadata"]["managedFields"][0]["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {".": {}, "f:run": {}}},
            "f:spec": {
                "f:containers": {
                    "k:{\"name\":\"nginx\"}": {
                        ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                        "f:resources": {}, "f:terminationMessagePath": {},
                        "f:terminationMessagePolicy": {}
                    }
                },
                "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {},
                "f:schedulerName": {}, "f:securityContext": {},
                "f:terminationGracePeriodSeconds": {}
            }
        })
    );

    // A StatefulSet: `updateStrategy` and `template` exist in the zero value, `rollingUpdate`
    // (a pointer) does not; the atomic `selector` is owned as a leaf.
    let mut set = sts(3, "nginx");
    set["spec"]["updateStrategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}});
    update(&writer("StatefulSet", "kubectl-client-side-apply", T0), None, &mut set);
    let fields = &set["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"];
    assert!(fields.get(".").is_none(), "{fields}");
    assert_eq!(fields["f:selector"], json!({}));
    assert_eq!(
        fields["f:updateStrategy"],
        json!({"f:rollingUpdate": {".": {}, "f:partition": {}}, "f:type": {}})
    );
    assert!(
        fields["f:template"].get(".").is_none()
            && fields["f:template"]["f:spec"].get(".").is_none()
    );
}
