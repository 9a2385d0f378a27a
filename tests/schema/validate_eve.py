#!/usr/bin/env python3
"""Validates every `mqtt_ml` object in EVE files against docs/eve.schema.json.

    validate_eve.py [--schema docs/eve.schema.json] [--validator auto|jsonschema|builtin]
                    [--max-errors 20] [--json summary.json] [--allow-empty] eve.json [eve.json ...]

Each `"event_type": "mqtt_ml"` record and each alert that carries an `mqtt_ml` object is checked
against the schema's `#/$defs/eve_record` (which holds the object to `#/$defs/mqtt_ml`). Other
lines are counted and skipped. Prints per-file counts and the first errors; exits 1 when a record
is invalid, a line is not JSON, or (without --allow-empty) no object was found at all; 2 on a
usage error.

Validator: the `jsonschema` package (training/requirements.txt) when importable, which also checks
the schema itself against the draft 2020-12 metaschema; otherwise the small built-in validator
below, which implements exactly the keywords the schema uses and refuses any other.
"""
import argparse
import json
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_SCHEMA = os.path.join(ROOT, "docs", "eve.schema.json")

# Keywords the built-in validator understands (assertions and the annotations it may ignore).
ASSERTIONS = {
    "type", "properties", "required", "additionalProperties", "enum", "const", "minimum",
    "maximum", "items", "minItems", "maxItems", "uniqueItems", "$ref", "allOf", "anyOf", "not",
    "if", "then", "else",
}
ANNOTATIONS = {"$schema", "$id", "$defs", "$comment", "title", "description"}


class BuiltinValidator:
    """Draft 2020-12 semantics for the subset of keywords in ASSERTIONS; local `#/...` refs only."""

    name = "builtin"

    def __init__(self, schema, entry):
        self.root = schema
        unknown = sorted(self._keywords(schema) - ASSERTIONS - ANNOTATIONS)
        if unknown:
            raise ValueError(f"schema uses keywords the built-in validator lacks: {unknown}")
        self.entry = self._resolve(entry)

    def _keywords(self, node, seen=None):
        seen = set() if seen is None else seen
        if isinstance(node, dict):
            for k, v in node.items():
                seen.add(k)
                if k in ("properties", "$defs"):
                    for sub in v.values():
                        self._keywords(sub, seen)
                elif k in ("enum", "const", "required"):
                    continue
                else:
                    self._keywords(v, seen)
        elif isinstance(node, list):
            for v in node:
                self._keywords(v, seen)
        return seen

    def _resolve(self, ref):
        if not ref.startswith("#"):
            raise ValueError(f"only local references are supported: {ref}")
        node = self.root
        for part in filter(None, ref[1:].split("/")):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    @staticmethod
    def _is_type(v, t):
        if t == "object":
            return isinstance(v, dict)
        if t == "array":
            return isinstance(v, list)
        if t == "string":
            return isinstance(v, str)
        if t == "boolean":
            return isinstance(v, bool)
        if t == "null":
            return v is None
        if isinstance(v, bool):
            return False
        if t == "integer":
            return isinstance(v, int) or (isinstance(v, float) and math.isfinite(v) and v.is_integer())
        if t == "number":
            return isinstance(v, (int, float))
        raise ValueError(f"unknown type {t}")

    @staticmethod
    def _equal(a, b):
        # JSON equality: 1 == 1.0, but true != 1.
        if isinstance(a, bool) or isinstance(b, bool):
            return type(a) is type(b) and a == b
        return a == b

    def iter_errors(self, inst, schema=None, path=()):
        s = self.entry if schema is None else schema
        if s is True or s == {}:
            return
        if s is False:
            yield path, "no value allowed here"
            return
        if "$ref" in s:
            yield from self.iter_errors(inst, self._resolve(s["$ref"]), path)
        t = s.get("type")
        if t is not None:
            types = t if isinstance(t, list) else [t]
            if not any(self._is_type(inst, x) for x in types):
                yield path, f"{json.dumps(inst)[:60]} is not of type {t!r}"
                return
        if "enum" in s and not any(self._equal(inst, e) for e in s["enum"]):
            yield path, f"{json.dumps(inst)[:60]} is not one of {s['enum']}"
        if "const" in s and not self._equal(inst, s["const"]):
            yield path, f"{s['const']!r} was expected"
        if isinstance(inst, (int, float)) and not isinstance(inst, bool):
            if "minimum" in s and inst < s["minimum"]:
                yield path, f"{inst} is less than the minimum of {s['minimum']}"
            if "maximum" in s and inst > s["maximum"]:
                yield path, f"{inst} is greater than the maximum of {s['maximum']}"
        if isinstance(inst, dict):
            for k in s.get("required", []):
                if k not in inst:
                    yield path, f"{k!r} is a required property"
            props = s.get("properties", {})
            for k, v in inst.items():
                if k in props:
                    yield from self.iter_errors(v, props[k], path + (k,))
                elif "additionalProperties" in s:
                    ap = s["additionalProperties"]
                    if ap is False:
                        yield path, f"additional property {k!r} is not allowed"
                    else:
                        yield from self.iter_errors(v, ap, path + (k,))
        if isinstance(inst, list):
            if "minItems" in s and len(inst) < s["minItems"]:
                yield path, f"has {len(inst)} items, fewer than {s['minItems']}"
            if "maxItems" in s and len(inst) > s["maxItems"]:
                yield path, f"has {len(inst)} items, more than {s['maxItems']}"
            if s.get("uniqueItems"):
                keys = [json.dumps(v, sort_keys=True) for v in inst]
                if len(set(keys)) != len(keys):
                    yield path, "has non-unique elements"
            if "items" in s:
                for i, v in enumerate(inst):
                    yield from self.iter_errors(v, s["items"], path + (i,))
        for sub in s.get("allOf", []):
            yield from self.iter_errors(inst, sub, path)
        if "anyOf" in s and not any(self.valid(inst, sub) for sub in s["anyOf"]):
            yield path, "is not valid under any of the given schemas"
        if "not" in s and self.valid(inst, s["not"]):
            yield path, f"should not be valid under {json.dumps(s['not'])[:80]}"
        if "if" in s:
            if self.valid(inst, s["if"]):
                if "then" in s:
                    yield from self.iter_errors(inst, s["then"], path)
            elif "else" in s:
                yield from self.iter_errors(inst, s["else"], path)

    def valid(self, inst, schema):
        return next(iter(self.iter_errors(inst, schema)), None) is None

    def errors(self, inst):
        return [(p, m) for p, m in self.iter_errors(inst)]


class JsonschemaValidator:
    name = "jsonschema"

    def __init__(self, schema, entry):
        import jsonschema
        from referencing import Registry, Resource

        jsonschema.Draft202012Validator.check_schema(schema)
        base = schema.get("$id", "urn:mqtt-ml:eve")
        registry = Registry().with_resource(base, Resource.from_contents(schema))
        self.version = _dist_version("jsonschema")
        self.v = jsonschema.Draft202012Validator({"$ref": base + entry}, registry=registry)

    def errors(self, inst):
        out = []
        for e in sorted(self.v.iter_errors(inst), key=lambda e: list(map(str, e.absolute_path))):
            # An if/then failure reports the inner error; a failed `not` or `anyOf` names the schema.
            out.append((tuple(e.absolute_path), e.message))
        return out


def _dist_version(name):
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return "?"


def make_validator(schema, entry, which):
    if which in ("auto", "jsonschema"):
        try:
            return JsonschemaValidator(schema, entry)
        except ImportError:
            if which == "jsonschema":
                raise SystemExit("validate_eve.py: the jsonschema package is not installed "
                                 "(pip install -r training/requirements.txt)")
    return BuiltinValidator(schema, entry)


def fmt_path(path):
    return "mqtt_ml record" if not path else "/".join(str(p) for p in path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("eve", nargs="+", help="EVE files (one JSON object per line)")
    ap.add_argument("--schema", default=DEFAULT_SCHEMA)
    ap.add_argument("--validator", choices=["auto", "jsonschema", "builtin"], default="auto")
    ap.add_argument("--entry", default="#/$defs/eve_record", help="schema location for a whole EVE line")
    ap.add_argument("--max-errors", type=int, default=20, help="errors to print (default 20)")
    ap.add_argument("--json", help="write a JSON summary here")
    ap.add_argument("--allow-empty", action="store_true", help="do not fail when no mqtt_ml object is found")
    args = ap.parse_args(argv)

    with open(args.schema, encoding="utf-8") as f:
        schema = json.load(f)
    try:
        v = make_validator(schema, args.entry, args.validator)
    except Exception as e:  # schema error from either validator
        print(f"validate_eve.py: invalid schema {args.schema}: {e}", file=sys.stderr)
        return 1
    label = v.name + (f" {v.version}" if getattr(v, "version", None) else "")

    totals = {"files": 0, "lines": 0, "records": 0, "alerts": 0, "valid": 0, "invalid": 0,
              "not_json": 0, "scored": 0, "with_features": 0}
    shown = 0
    first_errors = []
    for path in args.eve:
        c = {k: 0 for k in ("lines", "records", "alerts", "invalid", "not_json", "scored", "with_features")}
        try:
            fh = open(path, encoding="utf-8")
        except OSError as e:
            print(f"{path}: {e}", file=sys.stderr)
            totals["not_json"] += 1
            continue
        with fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                c["lines"] += 1
                try:
                    rec = json.loads(line)
                except ValueError as e:
                    c["not_json"] += 1
                    msg = f"{path}:{lineno}: not JSON: {e}"
                    first_errors.append(msg)
                    continue
                et = rec.get("event_type") if isinstance(rec, dict) else None
                if et == "mqtt_ml":
                    c["records"] += 1
                elif et == "alert" and "mqtt_ml" in rec:
                    c["alerts"] += 1
                else:
                    continue
                obj = rec.get("mqtt_ml")
                if isinstance(obj, dict):
                    c["scored"] += "score" in obj
                    c["with_features"] += "features" in obj
                errs = v.errors(rec)
                if errs:
                    c["invalid"] += 1
                    for p, m in errs[:3]:
                        where = fmt_path(p[1:] if p and p[0] == "mqtt_ml" else p)
                        first_errors.append(f"{path}:{lineno} ({et}): {where}: {m}")
        totals["files"] += 1
        for k, n in c.items():
            totals[k] += n
        ok_n = c["records"] + c["alerts"] - c["invalid"]
        totals["valid"] += ok_n
        print(f"{path}: {c['records']} mqtt_ml records, {c['alerts']} alerts with mqtt_ml, "
              f"{ok_n} valid, {c['invalid']} invalid"
              + (f", {c['not_json']} lines not JSON" if c["not_json"] else ""))
    for msg in first_errors[: args.max_errors]:
        print("  " + msg)
        shown += 1
    if len(first_errors) > shown:
        print(f"  ... {len(first_errors) - shown} more errors")
    checked = totals["records"] + totals["alerts"]
    print(f"validate_eve: {totals['files']} files, {checked} objects checked "
          f"({totals['records']} records, {totals['alerts']} alerts; {totals['scored']} scored, "
          f"{totals['with_features']} with features), {totals['valid']} valid, "
          f"{totals['invalid']} invalid [{label}]")
    ok = totals["invalid"] == 0 and totals["not_json"] == 0 and (checked > 0 or args.allow_empty)
    if checked == 0 and not args.allow_empty:
        print("validate_eve: no mqtt_ml object found", file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({**totals, "checked": checked, "validator": label, "ok": ok,
                       "errors": first_errors[: args.max_errors]}, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
