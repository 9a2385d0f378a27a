#!/usr/bin/env python3
"""Summarises bench/valgrind.sh's memcheck XML reports: errors (and definite leaks) per capture,
attributed by the innermost frame that is not valgrind's allocator replacement or Rust's allocation
shims (alloc::alloc, box_new, ...): to the plugin (libmqtt_ml.so), the TensorFlow Lite C library,
the dynamic loader (ld.so), or other code (Suricata, libc). An error in other code whose stack passes
through the plugin is marked "+via-plugin". Exit status 1 when any is attributed to the plugin."""
import collections
import sys
import xml.etree.ElementTree as ET


SHIMS = ("alloc", "alloc_impl", "alloc_impl_runtime", "allocate", "box_new_uninit", "new<",
         "realloc", "grow", "finish_grow", "reserve", "exchange_malloc", "__rust_")


def where(err):
    frames = [(f.findtext("fn") or "", f.findtext("obj") or "") for f in err.iter("frame")]
    objs = [o for _, o in frames]
    for fn, obj in frames:
        if "vgpreload" in obj:
            continue
        if "libmqtt_ml" in obj and fn.startswith(SHIMS):
            continue
        if "libmqtt_ml" in obj:
            return "plugin"
        if "tensorflowlite" in obj:
            return "tflite"
        if "ld-linux" in obj:
            return "loader" + ("+via-plugin" if any("libmqtt_ml" in o for o in objs) else "")
        break
    return "other" + ("+via-plugin" if any("libmqtt_ml" in o for o in objs) else "")


def main():
    totals = collections.Counter()
    examples = {}
    leak_bytes = collections.Counter()  # largest per capture: a leak that grows with traffic shows
    rows = []
    for line in open(sys.argv[1]):
        name, rc, secs, recs, xml = line.rstrip("\n").split("\t")
        c = collections.Counter()
        try:
            root = ET.parse(xml).getroot()
        except (ET.ParseError, FileNotFoundError) as e:
            rows.append((name, rc, secs, recs, f"no report ({e})"))
            totals["unreadable"] += 1
            continue
        for err in root.iter("error"):
            kind = err.findtext("kind")
            key = (where(err), kind)
            c[key] += 1
            totals[key] += 1
            leaked = err.findtext("xwhat/leakedbytes")
            if leaked:
                leak_bytes[key] = max(leak_bytes[key], int(leaked))
            if key not in examples:
                frames = [f"{f.findtext('fn') or '?'} ({(f.findtext('obj') or '?').rsplit('/', 1)[-1]})"
                          for f in err.iter("frame")][:8]
                what = err.findtext("what") or err.findtext("xwhat/text") or ""
                examples[key] = f"{name}: {what}\n      " + "\n      ".join(frames)
        summary = ", ".join(f"{w}/{k}: {n}" for (w, k), n in sorted(c.items())) or "clean"
        rows.append((name, rc, secs, recs, summary))
    w = max(len(r[0]) for r in rows)
    print(f"{'capture'.ljust(w)}  exit  secs  mqtt_ml  memcheck errors (where/kind: count)")
    for name, rc, secs, recs, summary in rows:
        print(f"{name.ljust(w)}  {rc:>4}  {secs:>4}  {recs:>7}  {summary}")
    print(f"\n{len(rows)} captures")
    for key, n in sorted(totals.items(), key=str):
        extra = f" (largest in one run: {leak_bytes[key]} bytes)" if key in leak_bytes else ""
        print(f"total {key}: {n}{extra}")
    for key, ex in sorted(examples.items()):
        print(f"\nfirst {key[0]}/{key[1]}: {ex}")
    plugin = sum(n for k, n in totals.items() if isinstance(k, tuple) and k[0] == "plugin")
    print(f"\nerrors attributable to the plugin: {plugin}")
    sys.exit(1 if plugin else 0)


if __name__ == "__main__":
    main()
