#!/usr/bin/env python3
"""Generates crates/api/src/apply/schema.json from Kubernetes' v1.33 OpenAPI definitions.

Usage: scripts/gen-apply-meta.py ../shared/reference/k8s-v1.33-definitions.json

Keeps what server-side apply (structured-merge-diff) needs: for each kind (group/version/Kind)
its definition; for each definition with properties whether it is an atomic map, and for each
property that is not a plain scalar how it merges:
  t: the definition of the value (or of the list's/map's elements)
  l: "set" or "map" for lists that merge item by item (absent: atomic), k: the map keys
  m: 1 for maps with arbitrary keys (additionalProperties), a: 1 for atomic maps.
Lists without x-kubernetes-list-type follow the patch strategy, as kube-openapi's schemaconv
does: "merge" with a merge key is a map list keyed by it, "merge" without one a set, anything
else atomic. The output is committed; rerun this when the definitions change.
"""
import json
import sys
from pathlib import Path


def ref_name(schema):
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def list_type(schema):
    kind = schema.get("x-kubernetes-list-type")
    if kind == "set":
        return "set", None
    if kind == "map":
        return "map", schema.get("x-kubernetes-list-map-keys", [])
    if kind is None and "merge" in schema.get("x-kubernetes-patch-strategy", "").split(","):
        key = schema.get("x-kubernetes-patch-merge-key")
        return ("map", [key]) if key else ("set", None)
    return None, None


def main():
    source = Path(sys.argv[1])
    defs = json.loads(source.read_text())["$defs"]
    kinds, types = {}, {}
    for name, definition in sorted(defs.items()):
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            group = gvk.get("group", "")
            kinds[f'{group}/{gvk["version"]}/{gvk["kind"]}'] = name
        if "properties" not in definition:
            continue
        fields = {}
        for field, schema in sorted(definition["properties"].items()):
            entry = {}
            if "items" in schema:
                kind, keys = list_type(schema)
                if kind is None:
                    continue
                entry["l"] = kind
                if keys:
                    entry["k"] = keys
                target = ref_name(schema["items"])
            elif isinstance(schema.get("additionalProperties"), dict):
                entry["m"] = 1
                target = ref_name(schema["additionalProperties"])
            else:
                target = ref_name(schema)
            if schema.get("x-kubernetes-map-type") == "atomic":
                entry["a"] = 1
            if target:
                entry["t"] = target
            if entry:
                fields[field] = entry
        entry = {"f": fields}
        if definition.get("x-kubernetes-map-type") == "atomic":
            entry["a"] = 1
        types[name] = entry
    out = Path(__file__).resolve().parent.parent / "crates/api/src/apply/schema.json"
    out.write_text(json.dumps({"kinds": kinds, "types": types}, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(kinds)} kinds, {len(types)} types)")


if __name__ == "__main__":
    main()
