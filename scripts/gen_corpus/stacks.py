"""Brokers and benign client stacks of the corpus, each run inside a host's network namespace.

Python stacks (paho-mqtt, gmqtt) run in a thread that first enters the host's namespace; the
others (mqtt.js, mosquitto_pub, mosquitto_sub, the aedes broker) run as processes under
`ip netns exec`, started and stopped by PID through gen_dataset.infra. Every loop is bounded by a
count and by the scenario's soft end; nothing outlives the capture.
"""

import asyncio
import copy
import json
import os
import random
import shlex
import subprocess
import threading
import time

from gen_dataset import infra
from gen_dataset.benign import Client
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from . import envs, netns

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "node")
VERSION_FLAG = {3: "mqttv31", 4: "mqttv311", 5: "mqttv5"}


class AedesBroker(infra.Broker):
    """aedes (npm) on node: gen_dataset.infra.Broker's life cycle with another server."""

    def __init__(self, workdir, port, users, anonymous, host, netns_name, modules):
        self.dir = workdir
        self.port = port
        self.host = host
        self.netns = netns_name
        self.proc = None
        os.makedirs(workdir, exist_ok=True)
        self.conf = os.path.join(workdir, "aedes.json")
        with open(self.conf, "w") as f:
            json.dump({"modules": modules, "host": host, "port": port, "anonymous": anonymous,
                       "users": users, "keepalive_limit": 0}, f)
        self.log_path = os.path.join(workdir, "broker.log")

    def start(self):
        self._log = open(self.log_path, "a")
        self.proc = infra.start_proc(
            infra.netns_argv(self.netns) + ["node", os.path.join(NODE_DIR, "aedes-broker.mjs"),
                                            self.conf],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            infra.wait_until(f"aedes listening on {self.host}:{self.port}",
                             lambda: self.proc.poll() is None
                             and self.port in infra.listening_ports(self.proc.pid), 15)
        except infra.GenError:
            raise infra.GenError(f"aedes did not start; log:\n{self.tail()}")


def make_broker(env, workdir, users, host, netns_name, modules):
    if env["broker"] == "mosquitto":
        return infra.Broker(workdir, envs.PORT, users, env["anonymous"], host=host,
                            netns=netns_name)
    if env["broker"] == "aedes":
        return AedesBroker(workdir, envs.PORT, users, env["anonymous"], host, netns_name, modules)
    raise infra.GenError(f"unknown broker {env['broker']}")


class NullLog(infra.ConnLog):
    """A connection log that forgets: for clients behind NAT, whose local address and port are
    not what the capture shows (they are labelled by their router's address instead)."""

    def opening(self, label):
        return {"label": label, "t0": time.time(), "port": None, "ip": None, "t1": None}


class Device:
    """One running benign device: a thread or a process, and what went wrong with it."""

    def __init__(self, spec, ns, rt):
        self.spec = spec
        self.ns = ns
        self.rt = rt
        self.thread = None
        self.proc = None
        self.error = None
        self.sent = 0

    # ---------------------------------------------------------------------------------------
    def start(self):
        stack = self.spec["stack"]
        if stack in ("paho", "gmqtt"):
            self.thread = threading.Thread(target=self._thread_main, daemon=True)
            self.thread.start()
        elif stack == "mqttjs":
            self._start_mqttjs()
        elif stack == "mosquitto_pub":
            self._start_pub_loop()
        elif stack == "mosquitto_sub":
            self._start_sub()
        else:
            raise infra.GenError(f"unknown stack {stack}")

    def wait(self, until):
        """Wait for the device to end by itself (its soft end has passed), at most until `until`
        (time.monotonic()); then stop it."""
        if self.thread is not None:
            self.thread.join(max(0.1, until - time.monotonic()))
            if self.thread.is_alive() and self.error is None:
                self.error = "did not finish in time"
        if self.proc is not None:
            if self.spec["stack"] == "mosquitto_sub":
                infra.stop_proc(self.proc, grace=3.0)   # SIGTERM: disconnects cleanly
            else:
                try:
                    self.proc.wait(max(0.1, until - time.monotonic()))
                except subprocess.TimeoutExpired:
                    if self.error is None:
                        self.error = "did not finish in time"
                infra.stop_proc(self.proc, grace=3.0)

    # --- Python stacks -------------------------------------------------------------------------
    def _thread_main(self):
        try:
            netns.enter(self.ns)
            rng = random.Random(self.rt.seed)
            time.sleep(rng.uniform(0.0, 1.0))
            if self.spec["stack"] == "paho":
                self._paho(rng)
            else:
                asyncio.run(self._gmqtt(rng))
        except Exception as e:  # reported in the manifest and the checks
            self.error = f"{type(e).__name__}: {e}"

    def _payload(self, rng, seq):
        d = {"id": self.spec["name"], "seq": seq, "t": round(time.time(), 3),
             "v": round(rng.uniform(0, 100), 2)}
        s = json.dumps(d, separators=(",", ":"))
        size = self.spec.get("size", 0)
        return s + " " * max(0, size - len(s))

    def _paho_client(self, rng):
        d = self.spec
        ctx = self.rt.ctx
        status = d["topic"].rstrip("/#+") + "/status"
        return Client(ctx, f"{d['name']}-{rng.randrange(16**6):06x}", d.get("user"),
                      d["version"], d["keepalive"], "benign",
                      will=(status, "offline") if d.get("will") else None,
                      password=self.rt.passwords.get(d.get("user")),
                      clean=d.get("clean", True), session_expiry=d.get("session_expiry", 0),
                      reconnect=True), status

    def _pub_props(self, seq):
        if self.spec["version"] != 5 or not self.spec.get("props"):
            return None
        p = Properties(PacketTypes.PUBLISH)
        p.ContentType = "application/json"
        p.PayloadFormatIndicator = 1
        p.MessageExpiryInterval = 120
        p.UserProperty = ("seq", str(seq))
        return p

    def _paho(self, rng):
        d = self.spec
        ctx = self.rt.ctx
        role = d["role"]
        cl, status = self._paho_client(rng)
        infos = []
        seq = 0
        if role == "sleepy":
            while seq < 10_000:
                cl.connect()
                infos = [cl.publish(d["topic"], self._payload(rng, seq), d["qos"],
                                    d.get("retain", False), self._pub_props(seq))]
                seq += 1
                ctx.stop.wait(0.2)
                cl.disconnect(infos)
                if not ctx.sleep(d["interval"] * rng.uniform(0.8, 1.2)):
                    break
            self.sent = seq
            return
        cl.connect()
        try:
            if d.get("will"):
                infos.append(cl.publish(status, "online", 1, retain=True))
            if role == "subscriber":
                props = None
                if d["version"] == 5:
                    props = Properties(PacketTypes.SUBSCRIBE)
                    props.SubscriptionIdentifier = 3
                cl.subscribe(d["topic"], d["qos"], props=props)
                while ctx.sleep(0.5):
                    pass
                cl.c.unsubscribe(d["topic"])       # UNSUBSCRIBE / UNSUBACK before leaving
                ctx.stop.wait(0.3)
                return
            reconnect_at = None
            if d.get("reconnect_at"):
                reconnect_at = time.monotonic() + d["reconnect_at"] * (ctx.soft_end -
                                                                      time.monotonic())
            while seq < 100_000:
                if not ctx.sleep(d["interval"] * rng.uniform(0.7, 1.3)):
                    break
                n = d.get("burst", 1) if role == "burst" else 1
                for k in range(n):
                    topic = d["topic"] + (f"/{k % 4}" if role == "burst" else "")
                    infos.append(cl.publish(topic, self._payload(rng, seq), d["qos"],
                                            d.get("retain", False), self._pub_props(seq)))
                    seq += 1
                # (a publish made while the broker restarts is dropped: rc says so)
                infos = [i for i in infos if i.rc == 0 and not i.is_published()][-100:]
                if reconnect_at and time.monotonic() > reconnect_at:
                    reconnect_at = None     # a clean reconnect with the session kept
                    cl.disconnect(infos)
                    infos = []
                    ctx.sleep(rng.uniform(0.5, 1.5))
                    cl.connect()
            if d.get("will"):
                infos.append(cl.publish(status, "offline", 1, retain=True))
        finally:
            self.sent = seq
            cl.disconnect(infos)

    async def _gmqtt(self, rng):
        import logging

        import gmqtt
        from gmqtt.mqtt.constants import MQTTv50, MQTTv311
        logging.getLogger("gmqtt").setLevel(logging.CRITICAL)   # reconnect chatter
        d = self.spec
        ctx = self.rt.ctx
        version = MQTTv50 if d["version"] == 5 else MQTTv311
        kw = {}
        if d["version"] == 5:
            kw["session_expiry_interval"] = d.get("session_expiry", 0)
            kw["receive_maximum"] = 24
            kw["user_property"] = ("fw", "1.8.3")
        c = gmqtt.Client(f"{d['name']}-{rng.randrange(16**6):06x}",
                         clean_session=d.get("clean", True), **kw)
        c.set_config({"reconnect_retries": 30, "reconnect_delay": 1})
        user = d.get("user")
        if user:
            c.set_auth_credentials(user, self.rt.passwords[user])
        rec = None
        conns = self.rt.conns

        def on_connect(client, flags, rc, props):
            nonlocal rec
            try:
                sock = client._connection._transport.get_extra_info("sockname")
            except AttributeError:
                sock = None
            if rec is not None:
                conns.closed(rec)
            if sock:
                rec = conns.opening("benign")
                rec["t0"] -= 2.0
                conns.opened(rec, sock[1], sock[0])
        c.on_connect = on_connect
        await asyncio.wait_for(c.connect(self.rt.host, envs.PORT, keepalive=d["keepalive"],
                                         version=version), timeout=10)
        seq = 0
        try:
            if d["role"] == "subscriber":
                c.subscribe(d["topic"], qos=d["qos"])
                while ctx.sleep(0):
                    await asyncio.sleep(0.3)
                return
            while seq < 100_000 and ctx.sleep(0):
                await asyncio.sleep(d["interval"] * rng.uniform(0.7, 1.3))
                pkw = {}
                if d["version"] == 5 and d.get("props"):
                    pkw = {"content_type": "application/json", "message_expiry_interval": 60,
                           "user_property": ("seq", str(seq))}
                c.publish(d["topic"], self._payload(rng, seq), qos=d["qos"],
                          retain=d.get("retain", False), **pkw)
                seq += 1
            await asyncio.sleep(0.5)          # the last acknowledgements
        finally:
            self.sent = seq
            await asyncio.wait_for(c.disconnect(), timeout=5)
            if rec is not None:
                conns.closed(rec)

    # --- process stacks ------------------------------------------------------------------------
    def _secs_left(self):
        return max(1.0, self.rt.ctx.soft_end - time.monotonic())

    def _start_mqttjs(self):
        d = self.spec
        cfg = {"modules": self.rt.modules, "url": f"mqtt://{self.rt.host}:{envs.PORT}",
               "id": f"{d['name']}-{random.Random(self.rt.seed).randrange(16**6):06x}",
               "user": d.get("user"), "password": self.rt.passwords.get(d.get("user")),
               "version": d["version"], "keepalive": d["keepalive"],
               "clean": d.get("clean", True), "session_expiry": d.get("session_expiry", 0),
               "will": ({"topic": d["topic"].rstrip("/#+") + "/status", "payload": "offline",
                         "qos": 1, "retain": True} if d.get("will") else None),
               "seconds": self._secs_left(), "role": d["role"], "topic": d["topic"],
               "qos": d["qos"], "interval": d["interval"], "size": d.get("size", 0),
               "retain": d.get("retain", False), "burst": d.get("burst", 1),
               "props": d.get("props", False), "fallback": d.get("fallback", False),
               "seed": self.rt.seed % 2**31}
        path = os.path.join(self.rt.workdir, f"mqttjs-{d['name']}.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        self._out = open(os.path.join(self.rt.workdir, f"mqttjs-{d['name']}.log"), "w")
        self.proc = infra.start_proc(
            infra.netns_argv(self.ns) + ["node", os.path.join(NODE_DIR, "mqttjs-client.mjs"),
                                         path],
            stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def _auth_args(self, password=None):
        user = self.spec.get("user")
        if not user:
            return ""
        pw = password if password is not None else self.rt.passwords[user]
        return f"-u {shlex.quote(user)} -P {shlex.quote(pw)}"

    def _start_pub_loop(self):
        """A shell loop: one mosquitto_pub (one TCP connection) per message."""
        d = self.spec
        secs = self._secs_left()
        q = shlex.quote
        base = (f"mosquitto_pub -h {q(self.rt.host)} -p {envs.PORT} -V {VERSION_FLAG[d['version']]}"
                f" -k {d['keepalive']} -q {d['qos']} -t {q(d['topic'])}")
        if d.get("retain"):
            base += " -r"
        if d["role"] == "blob":
            blob = os.path.join(self.rt.workdir, f"{d['name']}.bin")
            r = random.Random(self.rt.seed)
            with open(blob, "wb") as f:
                f.write(bytes(r.getrandbits(8) for _ in range(d["size"])))
            msg = f"-f {q(blob)}"
            auth = self._auth_args()
        elif d["role"] == "expired":
            msg = "-m snapshot-failed"
            auth = self._auth_args(d["password"])
        else:
            msg = "-m \"{\\\"id\\\":\\\"%s\\\",\\\"seq\\\":$i,\\\"t\\\":$(date +%%s)}\"" % d["name"]
            auth = self._auth_args()
        count = int(secs / d["interval"]) + 1
        # Bounded by count and by time: no message in the last 2 s, no sleep past the end.
        step = int(d["interval"] + 0.999)
        script = (f"end=$(( $(date +%s) + {int(secs)} )); i=0; "
                  f"while [ $i -lt {count} ] && [ $(( $(date +%s) + 2 )) -lt $end ]; do "
                  f"{base} -i {q(d['name'])}-$i {auth} {msg} >/dev/null 2>&1 || true; "
                  f"i=$((i+1)); [ $(( $(date +%s) + {step} )) -lt $end ] || break; "
                  f"sleep {d['interval']}; done")
        self._out = open(os.path.join(self.rt.workdir, f"pub-{d['name']}.log"), "w")
        self.proc = infra.start_proc(infra.netns_argv(self.ns) + ["sh", "-c", script],
                                     stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def _start_sub(self):
        d = self.spec
        argv = ["mosquitto_sub", "-h", self.rt.host, "-p", str(envs.PORT),
                "-V", VERSION_FLAG[d["version"]], "-k", str(d["keepalive"]), "-q", str(d["qos"]),
                "-t", d["topic"], "-i", f"{d['name']}-sub"]
        if d.get("user"):
            argv += ["-u", d["user"], "-P", self.rt.passwords[d["user"]]]
        if d.get("clean") is False:
            argv.append("-c")
            if d["version"] == 5:
                argv += ["-x", str(d.get("session_expiry", 600) or 600)]
        if d["version"] == 5:
            argv += ["-D", "connect", "user-property", "role", "monitor"]
        self._out = open(os.path.join(self.rt.workdir, f"sub-{d['name']}.log"), "w")
        self.proc = infra.start_proc(infra.netns_argv(self.ns) + argv,
                                     stdout=subprocess.DEVNULL, stderr=self._out,
                                     stdin=subprocess.DEVNULL)


class Runtime:
    """What one device needs besides its spec: broker address, context, passwords, ...

    The device's connections are recorded in `conns` (ctx's own log is replaced by it)."""

    def __init__(self, host, ctx, conns, passwords, workdir, modules, seed):
        self.host = host
        if conns is not ctx.conns:
            ctx = copy.copy(ctx)         # same stop flag and deadlines, another log
            ctx.conns = conns
        self.ctx = ctx
        self.conns = conns
        self.passwords = passwords
        self.workdir = workdir
        self.modules = modules
        self.seed = seed


def versions(modules):
    """Versions of every broker and client stack, for the manifests."""
    import paho.mqtt
    out = {"mosquitto": infra.tool_version(["mosquitto", "-h"], "version"),
           "mosquitto_pub": infra.tool_version(["mosquitto_pub", "--help"], "version"),
           "mosquitto_sub": infra.tool_version(["mosquitto_sub", "--help"], "version"),
           "paho-mqtt": paho.mqtt.__version__,
           "node": infra.tool_version(["node", "--version"])}
    try:
        import gmqtt
        out["gmqtt"] = gmqtt.__version__
    except ImportError:
        out["gmqtt"] = "missing"
    for pkg in ("aedes", "mqtt"):
        try:
            with open(os.path.join(modules, "node_modules", pkg, "package.json")) as f:
                out["mqtt.js" if pkg == "mqtt" else pkg] = json.load(f)["version"]
        except (OSError, ValueError, KeyError):
            out[pkg] = "missing"
    return out
