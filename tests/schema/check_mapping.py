#!/usr/bin/env python3
"""Checks the Elastic assets in elastic/ against docs/eve.schema.json and real EVE output.

    check_mapping.py [--schema ...] [--template ...] [--pipeline ...] [--dashboard ...] [eve.json ...]

1. Every field of the `mqtt_ml` object — each property of the schema, and each field seen in the
   EVE files given (records and alerts) — is mapped explicitly in the component template, under its
   `_meta.field_prefix` (suricata.eve.mqtt_ml: where Elastic's Suricata integration puts it), with a
   type compatible with the schema: number -> float/double/scaled_float, integer -> long/integer,
   boolean -> boolean, string -> keyword/text, array of objects -> object/nested.
2. No float relies on dynamic mapping: `dynamic` is false or strict on the object and never turned
   back on below it; every field whose schema type is number, or that held a fraction in the EVE
   files, is mapped to a floating type; a value too large for a float's 24-bit mantissa to keep to
   the microsecond (epoch timestamps) is mapped to double.
3. The ingest pipeline is valid JSON; every field it reads or writes is mapped here or by the
   Suricata integration / ECS (INTEGRATION_FIELDS below), and fields it writes have the right type.
4. The dashboard is valid NDJSON of saved objects whose references resolve inside the file, and
   every field its visualizations aggregate on or query is mapped (here or by the integration).

Prints what it checked and every problem; exits 1 on any problem.
"""
import argparse
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ELASTIC = os.path.join(ROOT, "elastic")

FLOAT_TYPES = {"float", "double", "scaled_float", "half_float"}
COMPATIBLE = {
    "number": FLOAT_TYPES - {"half_float"},
    "integer": {"long", "integer", "unsigned_long"},
    "boolean": {"boolean"},
    "string": {"keyword", "text", "wildcard", "match_only_text"},
    "object": {"object", "nested"},
}
# Fields the Elastic Suricata integration (logs-suricata.eve) and ECS map, which the pipeline and
# dashboard may use: name -> type.
INTEGRATION_FIELDS = {
    "@timestamp": "date",
    "source.ip": "ip",
    "destination.ip": "ip",
    "source.port": "long",
    "destination.port": "long",
    "event.kind": "keyword",
    "event.category": "keyword",
    "event.type": "keyword",
    "event.severity": "long",
    "network.protocol": "keyword",
    "rule.name": "keyword",
    "rule.id": "keyword",
    "rule.category": "keyword",
    "tags": "keyword",
    "error.message": "match_only_text",
    "suricata.eve.event_type": "keyword",
    "suricata.eve.alert.signature": "keyword",
    "suricata.eve.alert.signature_id": "long",
    "suricata.eve.alert.category": "keyword",
}


class Problems(list):
    def add(self, msg):
        self.append(msg)


def load_json(path, problems, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        problems.add(f"{what} {path}: not valid JSON: {e}")
        return None


# --- the component template ------------------------------------------------------------------

def flatten_mapping(props, prefix, out, dyn_problems, inherited_dynamic):
    """Dotted path -> mapping node, for every field under `props`."""
    for name, node in props.items():
        path = f"{prefix}.{name}" if prefix else name
        out[path] = node
        dyn = node.get("dynamic", inherited_dynamic)
        if str(dyn).lower() in ("true", "runtime") and str(inherited_dynamic).lower() in ("false", "strict"):
            dyn_problems.add(f"template: {path} turns dynamic mapping back on ({dyn!r})")
        if "properties" in node:
            flatten_mapping(node["properties"], path, out, dyn_problems, dyn)


def template_fields(tpl, problems):
    mappings = tpl.get("template", {}).get("mappings", {})
    prefix = tpl.get("_meta", {}).get("field_prefix", "mqtt_ml")
    flat = {}
    flatten_mapping(mappings.get("properties", {}), "", flat, problems, mappings.get("dynamic", True))
    obj = flat.get(prefix)
    if obj is None:
        problems.add(f"template: {prefix} is not mapped")
        return prefix, flat
    dyn = obj.get("dynamic")
    if dyn is None or str(dyn).lower() not in ("false", "strict"):
        problems.add(f"template: {prefix} has dynamic {dyn!r}: must be false or strict, or an "
                     f"unmapped float would be mapped from its first value (0 -> long)")
    return prefix, flat


def mapped_type(node):
    if node is None:
        return None
    return node.get("type", "object" if "properties" in node else None)


# --- the schema ------------------------------------------------------------------------------

def schema_fields(schema):
    """Dotted path (relative to the object) -> (kind, schema node); arrays take their items' kind."""
    defs = schema["$defs"]
    out = {}

    def deref(n):
        while "$ref" in n:
            n = defs[n["$ref"].split("/")[-1]]
        return n

    def walk(node, prefix):
        for name, sub in node.get("properties", {}).items():
            sub = deref(sub)
            path = f"{prefix}.{name}" if prefix else name
            kind, item = sub.get("type"), sub
            if kind == "array":
                item = deref(sub["items"])
                kind = item.get("type")
                out[path] = ("object" if kind == "object" else kind, sub, True)
            else:
                out[path] = (kind, sub, False)
            if item.get("type") == "object":
                walk(item, path)

    walk(deref(defs["mqtt_ml"]), "")
    return out


# --- EVE files -------------------------------------------------------------------------------

def eve_fields(paths, problems):
    """Dotted path -> {"kinds": set, "max_abs_fraction": float}, over every mqtt_ml object."""
    seen = {}
    n = 0

    def note(path, kind, value=None):
        s = seen.setdefault(path, {"kinds": set(), "max_abs_fraction": 0.0})
        s["kinds"].add(kind)
        if kind == "float":
            s["max_abs_fraction"] = max(s["max_abs_fraction"], abs(value))

    def walk(v, path):
        if isinstance(v, dict):
            if path:
                note(path, "object")
            for k, sub in v.items():
                walk(sub, f"{path}.{k}" if path else k)
        elif isinstance(v, list):
            for sub in v:
                walk(sub, path)
        elif isinstance(v, bool):
            note(path, "boolean")
        elif isinstance(v, int):
            note(path, "integer")
        elif isinstance(v, float):
            note(path, "float" if not v.is_integer() else "integer", v)
        elif isinstance(v, str):
            note(path, "string")

    for p in paths:
        try:
            fh = open(p, encoding="utf-8")
        except OSError as e:
            problems.add(f"{p}: {e}")
            continue
        with fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # validate_eve.py reports it
                if isinstance(rec, dict) and isinstance(rec.get("mqtt_ml"), dict) and \
                        rec.get("event_type") in ("mqtt_ml", "alert"):
                    n += 1
                    walk(rec["mqtt_ml"], "")
    return seen, n


# --- pipeline and dashboard references -------------------------------------------------------

CTX_REF = re.compile(r"ctx((?:\??\.[A-Za-z_@][\w@]*|\[['\"][^'\"]+['\"]\])+)")
MUSTACHE = re.compile(r"\{\{\{?\s*([^}\s]+)\s*\}?\}\}")


def ctx_paths(script):
    out = []
    for m in CTX_REF.finditer(script):
        parts = re.findall(r"\.([A-Za-z_@][\w@]*)|\[['\"]([^'\"]+)['\"]\]", m.group(1))
        out.append(".".join(a or b for a, b in parts))
    return out


def pipeline_refs(pipeline):
    """(field, role, processor) for every field a processor reads ('read') or writes ('write')."""
    refs = []

    def procs(lst, where):
        for i, p in enumerate(lst or []):
            if not isinstance(p, dict) or len(p) != 1:
                refs.append((None, f"{where}[{i}] is not a single processor", None))
                continue
            (kind, body), = p.items()
            tag = f"{where}[{i}] {kind}" + (f" ({body.get('tag')})" if body.get("tag") else "")
            if kind == "convert" or kind == "date" or kind == "rename" or kind == "lowercase":
                refs.append((body.get("field"), "read", tag))
                tgt = body.get("target_field", body.get("field") if kind != "date" else "@timestamp")
                refs.append((tgt, "write", tag))
            elif "field" in body:
                refs.append((body["field"], "write" if kind in ("set", "append") else "read", tag))
            if "copy_from" in body:
                refs.append((body["copy_from"], "read", tag))
            for key in ("if", "source"):
                if isinstance(body.get(key), str):
                    refs.extend((f, "read", tag) for f in ctx_paths(body[key]))
            vals = body.get("value")
            for v in vals if isinstance(vals, list) else [vals]:
                if isinstance(v, str):
                    refs.extend((f, "read", tag) for f in MUSTACHE.findall(v))
            procs(body.get("on_failure"), f"{tag} on_failure")

    procs(pipeline.get("processors"), "processors")
    procs(pipeline.get("on_failure"), "on_failure")
    return refs


def kuery_fields(q):
    """Field names of a KQL query: the left side of each `field : value` / `field >= value`."""
    q = re.sub(r'"(?:[^"\\]|\\.)*"', '""', q)
    return re.findall(r"([A-Za-z_@][\w@.]*)\s*(?::|<=|>=|<|>)", q)


def dashboard_refs(path, problems):
    """(field, where) for every field the saved objects use; checks structure on the way."""
    refs, objs = [], []
    summary = None
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        problems.add(f"dashboard: {e}")
        return refs, objs
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            o = json.loads(line)
        except ValueError as e:
            problems.add(f"dashboard line {i}: not JSON: {e}")
            continue
        if "exportedCount" in o:
            summary = o
            continue
        for k in ("id", "type", "attributes", "references"):
            if k not in o:
                problems.add(f"dashboard line {i}: saved object without {k!r}")
        objs.append(o)
    ids = {(o.get("type"), o.get("id")) for o in objs}
    if len(ids) != len(objs):
        problems.add("dashboard: duplicate saved object ids")
    if summary is not None and summary.get("exportedCount") != len(objs):
        problems.add(f"dashboard: exportedCount {summary.get('exportedCount')} but {len(objs)} objects")
    for o in objs:
        where = f"{o.get('type')} {o.get('attributes', {}).get('title', o.get('id'))!r}"
        names = set()
        for r in o.get("references", []):
            names.add(r.get("name"))
            if (r.get("type"), r.get("id")) not in ids:
                problems.add(f"dashboard: {where} references {r.get('type')} {r.get('id')} not in the file")
        attrs = o.get("attributes", {})
        for key in ("visState", "panelsJSON", "uiStateJSON", "optionsJSON", "fieldAttrs", "fields",
                    "runtimeFieldMap", "fieldFormatMap", "sourceFilters"):
            if key in attrs:
                try:
                    json.loads(attrs[key])
                except ValueError as e:
                    problems.add(f"dashboard: {where} {key} is not JSON: {e}")
        ss = attrs.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
        if ss is not None:
            try:
                ss = json.loads(ss)
            except ValueError as e:
                problems.add(f"dashboard: {where} searchSourceJSON is not JSON: {e}")
                ss = {}
            q = ss.get("query", {})
            if q.get("language") == "kuery":
                refs.extend((f, f"{where} query") for f in kuery_fields(q.get("query", "")))
            irn = ss.get("indexRefName")
            if irn and irn not in names:
                problems.add(f"dashboard: {where} indexRefName {irn} has no reference")
        if o.get("type") == "index-pattern" and attrs.get("timeFieldName"):
            refs.append((attrs["timeFieldName"], f"{where} time field"))
        if "visState" in attrs:
            try:
                vs = json.loads(attrs["visState"])
            except ValueError:
                vs = {}
            for agg in vs.get("aggs", []):
                f = agg.get("params", {}).get("field")
                if f:
                    refs.append((f, f"{where} {agg.get('type')} aggregation"))
                elif agg.get("type") not in ("count",):
                    problems.add(f"dashboard: {where} {agg.get('type')} aggregation without a field")
        if "panelsJSON" in attrs:
            try:
                panels = json.loads(attrs["panelsJSON"])
            except ValueError:
                panels = []
            for p in panels:
                rn = p.get("panelRefName")
                if rn and f"{p.get('panelIndex')}:{rn}" not in names and rn not in names:
                    problems.add(f"dashboard: {where} panel {rn} has no reference")
    return refs, objs


# --- main ------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("eve", nargs="*", help="EVE files whose mqtt_ml fields must be mapped")
    ap.add_argument("--schema", default=os.path.join(ROOT, "docs", "eve.schema.json"))
    ap.add_argument("--template", default=os.path.join(ELASTIC, "mqtt-ml-component-template.json"))
    ap.add_argument("--pipeline", default=os.path.join(ELASTIC, "logs-suricata.eve@custom.json"))
    ap.add_argument("--dashboard", default=os.path.join(ELASTIC, "kibana-dashboard.ndjson"))
    args = ap.parse_args(argv)
    problems = Problems()

    schema = load_json(args.schema, problems, "schema")
    tpl = load_json(args.template, problems, "component template")
    pipeline = load_json(args.pipeline, problems, "ingest pipeline")
    if schema is None or tpl is None:
        for p in problems:
            print("  " + p)
        return 1
    prefix, flat = template_fields(tpl, problems)
    sfields = schema_fields(schema)
    efields, nobj = eve_fields(args.eve, problems)

    def mapping_of(rel):
        return flat.get(f"{prefix}.{rel}")

    # 1 + 2: schema fields
    for rel, (kind, node, is_array) in sorted(sfields.items()):
        full = f"{prefix}.{rel}"
        m = mapping_of(rel)
        t = mapped_type(m)
        if t is None:
            problems.add(f"{full}: in the schema ({kind}{'[]' if is_array else ''}) but not mapped")
            continue
        if t not in COMPATIBLE.get(kind, set()):
            problems.add(f"{full}: schema {kind}, mapped {t}")
        if kind == "object" and t in ("object", "nested"):
            d = m.get("dynamic")
            if d is not None and str(d).lower() not in ("false", "strict"):
                problems.add(f"{full}: dynamic {d!r}")
    # 1 + 2: fields seen in EVE output
    for rel, s in sorted(efields.items()):
        full = f"{prefix}.{rel}"
        if rel not in sfields:
            problems.add(f"{full}: emitted ({'/'.join(sorted(s['kinds']))}) but not in the schema")
        t = mapped_type(mapping_of(rel))
        if t is None:
            problems.add(f"{full}: emitted but not mapped (it would not be indexed, or be mapped dynamically)")
            continue
        if "float" in s["kinds"]:
            if t not in FLOAT_TYPES:
                problems.add(f"{full}: held fractional values but is mapped {t}")
            elif t != "double" and s["max_abs_fraction"] >= 2 ** 24:
                problems.add(f"{full}: values up to {s['max_abs_fraction']:.6f} need double "
                             f"(a float keeps 24 bits: {t} would round them by seconds)")
        kinds = s["kinds"] - {"float"} | ({"number"} if "float" in s["kinds"] else set())
        for k in kinds:
            if k == "integer" and t in FLOAT_TYPES:
                continue  # a float written as 0 / 1
            if t not in COMPATIBLE.get(k, set()) and not (k == "integer" and t in COMPATIBLE["number"]):
                problems.add(f"{full}: emitted as {k}, mapped {t}")
    # every schema number is a floating type (no float relies on dynamic mapping)
    floats = sorted(rel for rel, (kind, _, _) in sfields.items() if kind == "number")
    for rel in floats:
        if mapped_type(mapping_of(rel)) not in FLOAT_TYPES:
            problems.add(f"{prefix}.{rel}: a float in the schema, mapped {mapped_type(mapping_of(rel))}")

    # fields the pipeline adds are declared in _meta and mapped
    declared = tpl.get("_meta", {}).get("pipeline_fields", [])
    def known_type(field):
        if field in flat:
            return mapped_type(flat[field])
        return INTEGRATION_FIELDS.get(field)

    # 3: pipeline
    npipe = 0
    if pipeline is not None:
        if not isinstance(pipeline.get("processors"), list) or not pipeline["processors"]:
            problems.add("pipeline: no processors")
        for field, role, tag in pipeline_refs(pipeline):
            if field is None:
                problems.add(f"pipeline: {role}")
                continue
            if field.startswith("_ingest."):
                continue
            npipe += 1
            t = known_type(field)
            if t is None:
                problems.add(f"pipeline: {tag} {role}s {field}, which is not mapped")
            elif role == "write" and field.startswith(prefix + ".") and field not in declared:
                problems.add(f"pipeline: {tag} writes {field}; list it in the template's _meta.pipeline_fields")
        for proc in pipeline.get("processors", []):
            (kind, body), = proc.items()
            if kind == "convert" and body.get("type") in ("float", "double"):
                t = known_type(body.get("target_field", body.get("field")))
                if t not in FLOAT_TYPES:
                    problems.add(f"pipeline: convert to {body['type']} into {body.get('target_field')} mapped {t}")
            if kind == "date" and known_type(body.get("target_field", "@timestamp")) not in ("date", "date_nanos"):
                problems.add(f"pipeline: date into {body.get('target_field')} not mapped as a date")
    for f in declared:
        if known_type(f) is None:
            problems.add(f"template: _meta.pipeline_fields lists {f}, which is not mapped")

    # 4: dashboard
    drefs, dobjs = dashboard_refs(args.dashboard, problems)
    for field, where in drefs:
        if known_type(field) is None:
            problems.add(f"dashboard: {where} uses {field}, which is not mapped")

    print(f"check_mapping: {len(sfields)} schema fields, {len(efields)} fields seen in {nobj} mqtt_ml "
          f"objects of {len(args.eve)} EVE files, {len(floats)} float fields; pipeline: {npipe} field "
          f"references; dashboard: {len(dobjs)} saved objects, {len(drefs)} field references; "
          f"{len(problems)} problems")
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
