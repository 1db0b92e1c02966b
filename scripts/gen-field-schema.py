#!/usr/bin/env python3
"""Generates crates/api/src/validation/fields.json from Kubernetes' v1.33 OpenAPI definitions.

Usage: scripts/gen-field-schema.py ../shared/reference/k8s-v1.33-definitions.json

Keeps what strict field validation (unknown fields) needs: for each kind of the served groups its
definition, and for each definition reachable from them every property name with the definition
it leads to and how (`o` an object, `l` a list of them, `m` a map of them). Definitions without
properties (Time, Quantity, IntOrString, RawExtension, ...) are not listed: anything goes there,
but a field holding a Time or MicroTime (or a map of Times) is marked, for the decoding checks.
The output is committed; rerun this when the definitions change.
"""
import json
import sys
from pathlib import Path

from served_groups import GROUPS

# Leaves kube-apiserver re-encodes (metav1.Time in whole seconds, MicroTime in microseconds):
# 1 a Time, 2 a MicroTime, 3 a map of Times. Other leaves are 0.
TIMES = {
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Time", "o"): 1,
    ("io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime", "o"): 2,
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Time", "m"): 3,
}


def ref_name(schema):
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def main():
    defs = json.loads(Path(sys.argv[1]).read_text())["$defs"]
    kinds = {}
    for name, definition in sorted(defs.items()):
        if name.endswith("List"):
            continue
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            group = gvk.get("group", "")
            if (group, gvk["version"]) in GROUPS:
                kinds[f'{group}/{gvk["version"]}/{gvk["kind"]}'] = name
    types, todo = {}, sorted(set(kinds.values()))
    while todo:
        name = todo.pop()
        if name in types:
            continue
        definition = defs[name]
        if "properties" not in definition or definition.get("x-kubernetes-preserve-unknown-fields"):
            continue
        fields = {}
        for field, schema in sorted(definition["properties"].items()):
            target, shape = ref_name(schema), "o"
            if target is None and isinstance(schema.get("items"), dict):
                target, shape = ref_name(schema["items"]), "l"
            if target is None and isinstance(schema.get("additionalProperties"), dict):
                target, shape = ref_name(schema["additionalProperties"]), "m"
            if target and "properties" in defs[target]:
                fields[field] = [target, shape]
                todo.append(target)
            else:
                fields[field] = TIMES.get((target, shape), 0)
        types[name] = fields
    out = Path(__file__).resolve().parent.parent / "crates/api/src/validation/fields.json"
    out.write_text(json.dumps({"kinds": kinds, "types": types}, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(kinds)} kinds, {len(types)} types)")


if __name__ == "__main__":
    main()
