"""The environments of the corpus: broker, client stacks, address plan, benign devices, attacks.

Pure data and pure functions only (tests/corpus checks them without root). A device is a dict:
  name, stack (paho | gmqtt | mqttjs | mosquitto_pub | mosquitto_sub), role (periodic | sleepy |
  subscriber | burst | blob | expired), version (3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0), keepalive (s),
  qos, interval (s), topic, user (None: anonymous), and optionally size (payload bytes), retain,
  will, clean (False: persistent session), session_expiry, props (5.0 properties), burst,
  fallback (try 5.0 first, fall back to 3.1.1), nat (name of the router it sits behind).
Attack parameters feed gen_dataset.attacks; "addrs" is how many attacker addresses share a part.
"""

import ipaddress

CLASSES = ["benign", "bruteforce", "flood", "malaria", "malformed", "slowite"]
ATTACKS = CLASSES[1:]
PORT = 1883


def dev(name, stack, role, version, keepalive, qos, interval, topic, user=None, **kw):
    d = {"name": name, "stack": stack, "role": role, "version": version,
         "keepalive": keepalive, "qos": qos, "interval": interval, "topic": topic, "user": user}
    d.update(kw)
    return d


HOME = {
    "name": "home",
    "about": "a smart home: mosquitto with a password for every device, paho 3.1.1 sensors, "
             "MQTT 5 hub and blinds, a camera sending images, a doorbell's event bursts, "
             "a camera whose password has expired",
    "broker": "mosquitto", "anonymous": False,
    "subnet": "192.168.77.0/24", "broker_ip": "192.168.77.2",
    "hosts_from": "192.168.77.10", "attackers_from": "192.168.77.200",
    "routers": [],
    "devices": [
        dev("thermostat", "paho", "periodic", 4, 60, 1, 4.0, "home/living/thermostat",
            user="thermostat", will=True, retain=False, clean=False, reconnect_at=0.5, copies=2),
        dev("plug", "paho", "periodic", 4, 30, 0, 1.5, "home/kitchen/plug", user="plug",
            copies=4),
        dev("blinds", "paho", "sleepy", 5, 120, 1, 8.0, "home/bedroom/blinds", user="blinds",
            props=True),
        dev("hub", "paho", "subscriber", 5, 1800, 2, 0, "home/#", user="hub", props=True),
        dev("cam", "mosquitto_pub", "blob", 4, 60, 1, 15.0, "home/garden/cam/image",
            user="cam", size=300_000),
        dev("doorbell", "mqttjs", "burst", 4, 15, 1, 12.0, "home/entrance/doorbell",
            user="doorbell", burst=15, will=True),
        dev("heating", "gmqtt", "periodic", 5, 90, 2, 4.0, "home/cellar/heating",
            user="heating", props=True, retain=True),
        dev("old-cam", "mosquitto_pub", "expired", 4, 60, 1, 30.0, "home/garage/cam",
            user="old-cam", password="expired-2024"),
    ],
    "attacks": {
        "bruteforce": [{"addrs": 1, "count": 400, "pause": (0.0, 0.01), "final_success": True},
                       {"addrs": 2, "count": 40, "pause": (2.0, 3.0), "final_success": False}],
        "flood": [{"addrs": 1, "count": 25000, "secs": 8, "qos1_share": 0.1, "payload": (8, 40),
                   "topics": 4}],
        "malaria": {"addrs": 8, "clients": 200, "burst": (5, 15), "qos1_share": 0.5,
                    "topics": 120, "payload": (100, 1200), "pause": 0.02},
        "slowite": [{"addrs": 1, "count": 150, "keepalives": [65535]},
                    {"addrs": 1, "count": 80, "keepalives": [60, 120, 300]}],
        "malformed": {"addrs": 3, "count": 300, "linger": 0.1, "pause": (0.0, 0.02)},
    },
}

FACTORY = {
    "name": "factory",
    "about": "a production line: aedes (MQTT 3.1/3.1.1 only) with authenticated clients, "
             "mqtt.js PLCs at keep-alive 5 s with QoS 2 and persistent sessions, MQTT 3.1 "
             "legacy devices, a gmqtt historian, firmware pushes, an MQTT 5 client the broker "
             "refuses that falls back to 3.1.1",
    "broker": "aedes", "anonymous": False,
    "subnet": "10.61.0.0/16", "broker_ip": "10.61.0.5",
    "hosts_from": "10.61.1.10", "attackers_from": "10.61.250.10",
    "routers": [],
    "devices": [
        dev("plc", "mqttjs", "periodic", 4, 5, 2, 0.6, "factory/line1/plc", user="plc",
            clean=False, will=True, copies=4),
        dev("press", "mqttjs", "burst", 4, 10, 2, 9.0, "factory/line1/press", user="press",
            burst=25),
        dev("legacy", "mqttjs", "periodic", 3, 20, 1, 2.0, "factory/line3/legacy", user="legacy"),
        dev("scale", "paho", "periodic", 3, 30, 0, 1.0, "factory/line3/scale", user="scale",
            copies=3),
        dev("historian", "gmqtt", "subscriber", 4, 60, 2, 0, "factory/#", user="historian"),
        dev("scada", "paho", "subscriber", 4, 300, 1, 0, "factory/+/plc/status", user="scada",
            clean=False),
        dev("fw", "mqttjs", "blob", 4, 60, 1, 25.0, "factory/firmware/line2", user="fw",
            size=400_000),
        dev("panel", "mqttjs", "periodic", 5, 30, 0, 3.0, "factory/hall/panel", user="panel",
            fallback=True),
    ],
    "attacks": {
        "bruteforce": [{"addrs": 3, "count": 40, "pause": (2.0, 3.0), "final_success": False},
                       {"addrs": 1, "count": 300, "pause": (0.0, 0.02), "final_success": True}],
        "flood": [{"addrs": 1, "count": 400, "secs": 12, "qos1_share": 0.5,
                   "payload": (20_000, 120_000), "topics": 3}],
        "malaria": {"addrs": 12, "clients": 300, "burst": (3, 10), "qos1_share": 0.3,
                    "topics": 200, "payload": (50, 600), "pause": 0.02},
        "slowite": [{"addrs": 2, "count": 100, "keepalives": [30, 60, 90]}],
        "malformed": {"addrs": 2, "count": 300, "linger": 0.1, "pause": (0.0, 0.02)},
    },
}

FLEET_NAT = {
    "name": "fleet-nat",
    "about": "vehicles behind three NAT routers: aedes with anonymous clients, mosquitto_pub "
             "shell loops (one connection per message, MQTT 3.1 and 3.1.1), a sleepy paho "
             "tracker, mqtt.js and gmqtt telematics, a dispatcher with keep-alive 1800 s",
    "broker": "aedes", "anonymous": True,
    "subnet": "172.29.40.0/24", "broker_ip": "172.29.40.1",
    "hosts_from": "172.29.40.20", "attackers_from": "172.29.40.150",
    "routers": [{"name": "gw1", "lan": "10.200.1.0/24"},
                {"name": "gw2", "lan": "10.200.2.0/24"},
                {"name": "gw3", "lan": "10.200.3.0/24"}],
    "devices": [
        dev("truck", "mosquitto_pub", "periodic", 4, 60, 0, 1.5, "fleet/truck/gps", nat="gw1",
            copies=3),
        dev("reefer", "mosquitto_pub", "periodic", 3, 30, 1, 2.5, "fleet/reefer/temp", nat="gw2"),
        dev("van1", "mosquitto_pub", "periodic", 3, 10, 0, 1.2, "fleet/van1/gps", nat="gw2"),
        dev("tracker", "paho", "sleepy", 4, 10, 1, 6.0, "fleet/tracker/pos", nat="gw2"),
        dev("bus", "mqttjs", "periodic", 4, 45, 1, 1.0, "fleet/bus/can", nat="gw3",
            will=True, copies=3),
        dev("coach", "gmqtt", "periodic", 4, 25, 1, 1.5, "fleet/coach/can", nat="gw3"),
        dev("dispatch", "mosquitto_sub", "subscriber", 4, 1800, 1, 0, "fleet/#", clean=False),
        dev("depot", "paho", "periodic", 4, 10, 0, 3.0, "fleet/depot/door", retain=True,
            will=True),
    ],
    "attacks": {
        "bruteforce": [{"addrs": 2, "count": 40, "pause": (2.0, 3.0), "final_success": False},
                       {"addrs": 1, "count": 300, "pause": (0.0, 0.01), "final_success": False}],
        "flood": [{"addrs": 1, "count": 20000, "secs": 8, "qos1_share": 0.0, "payload": (4, 20),
                   "topics": 2},
                  {"addrs": 1, "count": 200, "secs": 8, "qos1_share": 0.2,
                   "payload": (30_000, 90_000), "topics": 2}],
        "malaria": {"addrs": 16, "clients": 320, "burst": (2, 8), "qos1_share": 0.7,
                    "topics": 300, "payload": (20, 300), "pause": 0.05},
        "slowite": [{"addrs": 3, "count": 60, "keepalives": [120, 600, 65535]}],
        "malformed": {"addrs": 4, "count": 300, "linger": 0.1, "pause": (0.0, 0.02)},
    },
}

CAMPUS = {
    "name": "campus",
    "about": "a university campus: mosquitto with anonymous and authenticated clients side by "
             "side, mixed stacks (paho, gmqtt, mqtt.js, mosquitto_pub/sub), MQTT 3.1 and 5.0 "
             "with properties, persistent 5.0 sessions, and a broker restart in the benign "
             "capture with every client reconnecting at once",
    "broker": "mosquitto", "anonymous": True, "restart": True,
    "subnet": "172.20.0.0/22", "broker_ip": "172.20.0.2",
    "hosts_from": "172.20.1.10", "attackers_from": "172.20.3.100",
    "routers": [],
    "devices": [
        dev("lab", "paho", "periodic", 5, 20, 1, 2.0, "campus/lab/env", user="lab",
            props=True, copies=4),
        dev("greenhouse", "gmqtt", "periodic", 5, 90, 2, 3.0, "campus/greenhouse/env",
            user="greenhouse",
            props=True, clean=False, session_expiry=300),
        dev("library", "mqttjs", "periodic", 5, 30, 1, 1.5, "campus/library/occupancy",
            props=True, copies=3),
        dev("noc", "mqttjs", "subscriber", 5, 60, 2, 0, "campus/#", user="noc",
            clean=False, session_expiry=600),
        dev("weather", "mosquitto_pub", "periodic", 3, 60, 0, 2.0, "campus/roof/weather",
            retain=True, copies=2),
        dev("alarms", "mosquitto_sub", "subscriber", 5, 5, 1, 0, "campus/+/alarm"),
        dev("locker", "paho", "sleepy", 4, 1800, 1, 10.0, "campus/gym/locker"),
        dev("counter", "paho", "burst", 5, 40, 0, 10.0, "campus/gate/counter", user="counter",
            burst=40),
    ],
    "attacks": {
        "bruteforce": [{"addrs": 4, "count": 30, "pause": (2.0, 3.0), "final_success": False}],
        "flood": [{"addrs": 1, "count": 15000, "secs": 10, "qos1_share": 0.6,
                   "payload": (16, 64), "topics": 6}],
        "malaria": {"addrs": 10, "clients": 250, "burst": (5, 12), "qos1_share": 0.5,
                    "topics": 250, "payload": (100, 800), "pause": 0.02},
        "slowite": [{"addrs": 2, "count": 80, "keepalives": [45, 60, 240]},
                    {"addrs": 1, "count": 80, "keepalives": [65535]}],
        "malformed": {"addrs": 3, "count": 300, "linger": 0.1, "pause": (0.0, 0.02)},
    },
}

ENVS = {e["name"]: e for e in (HOME, FACTORY, FLEET_NAT, CAMPUS)}


def devices(env):
    """The environment's devices with "copies": n expanded into n devices (names and topics
    numbered 1..n, same credentials), each on its own host."""
    out = []
    for d in env["devices"]:
        n = d.get("copies", 1)
        if n == 1:
            out.append(d)
            continue
        for i in range(1, n + 1):
            c = dict(d, name=f"{d['name']}{i}", topic=f"{d['topic']}/{i}")
            c.pop("copies")
            out.append(c)
    return out


def vary_attack(spec, rng):
    """The attack parameters of a run other than "a": every rate, count, size and pause is
    scaled by its own factor in [0.5, 2], so a later run is not the first one replayed with
    other random draws. Addresses and keep-alive lists stay (the address plan depends on them).
    Pure: the same rng state gives the same parameters."""
    if isinstance(spec, list):
        return [vary_attack(p, rng) for p in spec]
    out = {}
    for k, v in spec.items():
        if k in ("addrs", "secs", "keepalives", "final_success", "linger"):
            out[k] = v
        elif k == "qos1_share":
            out[k] = min(1.0, max(0.0, v * rng.uniform(0.5, 2.0)))
        elif isinstance(v, tuple):
            f = rng.uniform(0.5, 2.0)
            lo, hi = v
            out[k] = (type(lo)(lo * f), type(hi)(hi * f))
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            out[k] = v
        else:
            f = rng.uniform(0.5, 2.0)
            out[k] = max(1, round(v * f)) if isinstance(v, int) else v * f
    return out


def attacker_count(env):
    """Attacker addresses an environment needs (the largest attack decides)."""
    n = 1
    for spec in env["attacks"].values():
        parts = spec if isinstance(spec, list) else [spec]
        n = max(n, sum(p["addrs"] for p in parts))
    return n


def address_plan(env):
    """{"broker": ip, "hosts": {name: ip}, "routers": {name: (wan ip, lan network)},
    "lan": {device: ip}, "attackers": [ip], "network": subnet} of one environment.

    Hosts (devices not behind NAT and the routers' WAN sides) count up from hosts_from, attackers
    from attackers_from, devices behind a router from .10 of its LAN."""
    net = ipaddress.ip_network(env["subnet"])
    nxt = ipaddress.ip_address(env["hosts_from"])
    hosts, routers, lan = {}, {}, {}
    for r in env["routers"]:
        routers[r["name"]] = (str(nxt), r["lan"])
        nxt += 1
    lan_next = {r["name"]: ipaddress.ip_network(r["lan"]).network_address + 10
                for r in env["routers"]}
    for d in devices(env):
        if d.get("nat"):
            lan[d["name"]] = str(lan_next[d["nat"]])
            lan_next[d["nat"]] += 1
        else:
            hosts[d["name"]] = str(nxt)
            nxt += 1
    a = ipaddress.ip_address(env["attackers_from"])
    attackers = [str(a + i) for i in range(attacker_count(env))]
    plan = {"network": str(net), "broker": env["broker_ip"], "hosts": hosts,
            "routers": routers, "lan": lan, "attackers": attackers}
    return plan


def plan_problems(env):
    """What is wrong with an environment's address plan (empty: nothing)."""
    p = address_plan(env)
    net = ipaddress.ip_network(p["network"])
    out = []
    on_bridge = [p["broker"]] + list(p["hosts"].values()) + \
        [w for w, _ in p["routers"].values()] + p["attackers"]
    for ip in on_bridge:
        a = ipaddress.ip_address(ip)
        if a not in net or a in (net.network_address, net.broadcast_address):
            out.append(f"{ip} is not a host address of {net}")
    if len(set(on_bridge)) != len(on_bridge):
        out.append("two hosts share an address")
    for name, (_w, lan) in p["routers"].items():
        ln = ipaddress.ip_network(lan)
        if ln.overlaps(net):
            out.append(f"router {name}'s LAN {lan} overlaps {net}")
        for d, ip in p["lan"].items():
            if ipaddress.ip_address(ip) == ln.network_address + 1:
                out.append(f"{d} has the router's LAN address")
    names = [d["name"] for d in devices(env)]
    if len(set(names)) != len(names):
        out.append("two devices share a name")
    for d in env["devices"]:
        if d.get("nat") and d["nat"] not in p["routers"]:
            out.append(f"{d['name']} is behind unknown router {d['nat']}")
    return out


def traits(env):
    """The properties of an environment's benign traffic, as short names (for coverage)."""
    t = set()
    for d in env["devices"]:
        t.add({3: "mqtt3.1", 4: "mqtt3.1.1", 5: "mqtt5"}[d["version"]])
        if d["version"] == 5 and d.get("props"):
            t.add("mqtt5-properties")
        t.add("authenticated" if d.get("user") else "anonymous")
        t.add(f"qos{d['qos']}")
        t.add(f"stack:{d['stack']}")
        if d.get("retain") or d.get("will"):
            t.add("retained")
        if d.get("will"):
            t.add("will")
        if d.get("clean") is False:
            t.add("persistent-session")
        if d.get("reconnect_at") or (env.get("restart") and d["role"] != "expired"):
            t.add("reconnect")
        if d["role"] == "sleepy":
            t.add("sleepy")
        if d["role"] == "burst":
            t.add("burst")
        if d["role"] == "blob" and d.get("size", 0) >= 100_000:
            t.add("large-publish")
        if d["role"] == "expired":
            t.add("expired-password-retry")
        if d["stack"] == "mosquitto_pub" and d["role"] != "blob":
            t.add("connection-per-message")
        if d.get("nat"):
            t.add("nat")
        if d.get("fallback"):
            t.add("protocol-fallback")
    if env.get("restart"):
        t.add("broker-restart")
    return t


def keepalives(env):
    return sorted({d["keepalive"] for d in env["devices"]})


REQUIRED_TRAITS = {
    "mqtt3.1", "mqtt3.1.1", "mqtt5", "mqtt5-properties", "anonymous", "authenticated",
    "qos0", "qos1", "qos2", "retained", "will", "persistent-session", "reconnect", "sleepy",
    "burst", "large-publish", "broker-restart", "expired-password-retry",
    "connection-per-message", "nat",
    "stack:paho", "stack:gmqtt", "stack:mqttjs", "stack:mosquitto_pub", "stack:mosquitto_sub",
}
