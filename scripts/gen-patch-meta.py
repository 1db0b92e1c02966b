#!/usr/bin/env python3
"""Generates crates/api/src/patch-meta.json from Kubernetes' v1.33 OpenAPI definitions.

Usage: scripts/gen-patch-meta.py ../shared/reference/k8s-v1.33-definitions.json

Keeps what strategic merge patch needs and nothing else: for each kind (group/version/Kind) its
definition, and for each definition the properties that lead to nested objects (`ref`, `list`)
or carry a patch strategy (`strategy`, `key`). The output is committed; rerun this when the
definitions change.
"""
import json
import sys
from pathlib import Path


def ref_name(schema):
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def main():
    source = Path(sys.argv[1])
    defs = json.loads(source.read_text())["$defs"]
    kinds, types = {}, {}
    for name, definition in sorted(defs.items()):
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            group = gvk.get("group", "")
            kinds[f'{group}/{gvk["version"]}/{gvk["kind"]}'] = name
        fields = {}
        for field, schema in sorted(definition.get("properties", {}).items()):
            entry = {}
            target = ref_name(schema)
            if target is None and "items" in schema:
                target = ref_name(schema["items"])
                entry["list"] = True
            elif "items" in schema:
                entry["list"] = True
            if target is None and isinstance(schema.get("additionalProperties"), dict):
                target = ref_name(schema["additionalProperties"])
                if target:
                    entry["map"] = True
            if target:
                entry["ref"] = target
            if "x-kubernetes-patch-strategy" in schema:
                entry["strategy"] = schema["x-kubernetes-patch-strategy"]
            if "x-kubernetes-patch-merge-key" in schema:
                entry["key"] = schema["x-kubernetes-patch-merge-key"]
            if entry.get("ref") or entry.get("strategy"):
                fields[field] = entry
        if fields:
            types[name] = fields
    out = Path(__file__).resolve().parent.parent / "crates/api/src/patch-meta.json"
    out.write_text(json.dumps({"kinds": kinds, "types": types}, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(kinds)} kinds, {len(types)} types)")


if __name__ == "__main__":
    main()
