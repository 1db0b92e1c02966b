#!/usr/bin/env python3
"""Generates crates/apiserver/src/openapi-schemas.json from Kubernetes' v1.33 OpenAPI definitions.

Usage: scripts/gen-openapi.py ../shared/reference/k8s-v1.33-definitions.json

The definitions are JSON Schema (draft 2020-12, as the PyPI package kubernetes-validate ships
them). This turns them back into the OpenAPI v3 component schemas kube-apiserver serves under
/openapi/v3 (what `kubectl explain` reads), for the definitions reachable from the kinds of the
served groups:
- `"type": ["string", "null"]` is `"type": "string"`;
- a reference with a description is `{"allOf": [{"$ref": ...}], "description": ...}`, as
  kube-openapi writes it, and references point into `#/components/schemas/`;
- `apiVersion` and `kind` lose the `enum` the JSON Schema version added;
- IntOrString is `{"type": "string", "format": "int-or-string"}`, Quantity a string.
Everything else (descriptions, required, formats, x-kubernetes-* extensions) is kept as is.
The output is committed; rerun this when the definitions change.
"""
import json
import sys
from pathlib import Path

from served_groups import GROUPS

PREFIX = "#/$defs/"
SPECIAL = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, a JSON field that can accept a name or number.",
        "format": "int-or-string",
        "type": "string",
    },
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": "Quantity is a fixed-point representation of a number. It provides convenient marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() accessors.",
        "type": "string",
    },
}


def ref_target(ref):
    assert ref.startswith(PREFIX), ref
    return ref[len(PREFIX):]


def convert(schema, refs, name=None):
    """One schema, converted; the definitions it references are added to `refs`."""
    if not isinstance(schema, dict):
        return schema
    out = {}
    if "$ref" in schema:
        target = ref_target(schema["$ref"])
        refs.add(target)
        pointer = {"$ref": "#/components/schemas/" + target}
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        if not rest:
            return pointer
        out["allOf"] = [pointer]
        schema = rest
    for key, value in schema.items():
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            value = types[0] if len(types) == 1 else types
        elif key == "properties":
            value = {
                field: convert(
                    {k: v for k, v in sub.items() if not (field in ("apiVersion", "kind") and k == "enum")},
                    refs,
                )
                for field, sub in value.items()
            }
        elif key in ("items", "additionalProperties", "not"):
            value = convert(value, refs)
        elif key in ("allOf", "anyOf", "oneOf"):
            value = [convert(item, refs) for item in value]
        out[key] = value
    return out


def main():
    defs = json.loads(Path(sys.argv[1]).read_text())["$defs"]
    todo = []
    for name, definition in sorted(defs.items()):
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            if (gvk.get("group", ""), gvk["version"]) in GROUPS:
                todo.append(name)
                break
    schemas = {}
    while todo:
        name = todo.pop()
        if name in schemas:
            continue
        refs = set()
        if name in SPECIAL:
            schemas[name] = SPECIAL[name]
            continue
        converted = convert(defs[name], refs)
        # Only the GVKs of served group-versions: the document of one lists what it serves.
        gvks = [g for g in converted.get("x-kubernetes-group-version-kind", []) if (g.get("group", ""), g["version"]) in GROUPS]
        if gvks:
            converted["x-kubernetes-group-version-kind"] = gvks
        schemas[name] = converted
        todo.extend(sorted(refs - schemas.keys()))
    out = Path(__file__).resolve().parent.parent / "crates/apiserver/src/openapi-schemas.json"
    out.write_text(json.dumps(schemas, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(schemas)} schemas)")


if __name__ == "__main__":
    main()
