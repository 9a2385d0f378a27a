#!/usr/bin/env python3
"""Prints a short table of what mqtt-ml logged in an eve.json: messages per type and direction,
events raised, and alerts per signature."""
import collections
import json
import sys


def main(path):
    types = collections.Counter()
    events = collections.Counter()
    alerts = collections.Counter()
    flows = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            et = rec.get("event_type")
            if et == "mqtt_ml":
                m = rec["mqtt_ml"]
                types[(m["msgtype_name"], m["direction"])] += 1
                flows.add(rec.get("flow_id"))
                for e in m.get("events", []):
                    events[e] += 1
            elif et == "alert":
                alerts[rec["alert"]["signature"]] += 1
    total = sum(types.values())
    print(f"{total} MQTT messages in {len(flows)} connections")
    print(f"{'message':<14} {'direction':<10} {'count':>7}")
    for (name, direction), n in sorted(types.items()):
        print(f"{name:<14} {direction:<10} {n:>7}")
    if events:
        print("\nevents:")
        for e, n in events.most_common():
            print(f"  {e:<32} {n:>7}")
    print(f"\nalerts: {sum(alerts.values())}")
    for sig, n in alerts.most_common():
        print(f"  {n:>7}  {sig}")
    return 0 if total else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "eve.json"))
