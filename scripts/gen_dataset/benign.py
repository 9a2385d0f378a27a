"""The benign class: a small smart home talking to the broker through paho-mqtt.

Eight sensors publish JSON readings at jittered intervals, a dashboard subscribes to `home/#` and
sends fan commands, a fan controller answers them, a phone app drops by for the retained status
messages. Everything a client sends is drawn from its own random generator seeded from the run's
seed, so the content is the same on every run with that seed; only the timing differs.
"""

import json
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

V311, V5 = mqtt.MQTTv311, mqtt.MQTTv5

# name, topic, QoS, protocol, keep-alive (s), interval range (s, before --scale's time factor),
# kind ("periodic": every interval; "event": an interval passes, then maybe an event).
DEVICES = [
    ("temperature", "home/livingroom/temperature", 0, V311, 10, (0.6, 2.0), "periodic"),
    ("light", "home/livingroom/light", 0, V5, 10, (0.4, 1.6), "periodic"),
    ("humidity", "home/bathroom/humidity", 1, V311, 10, (0.8, 2.0), "periodic"),
    ("co-gas", "home/kitchen/co-gas", 1, V5, 10, (0.8, 2.0), "periodic"),
    ("motion", "home/hall/motion", 1, V311, 2, (0.3, 2.5), "event"),
    ("smoke", "home/kitchen/smoke", 2, V5, 2, (1.0, 3.0), "event"),
    ("door", "home/entrance/door", 2, V311, 2, (0.5, 3.0), "event"),
    ("fan", "home/fan/state", 1, V5, 10, (0.5, 2.0), "periodic"),
]
BACKGROUND_DEVICES = ("temperature", "humidity", "door")

USERS = ["temperature", "light", "humidity", "co-gas", "motion", "smoke", "door", "fan",
         "dashboard", "fan-controller", "phone"]


def make_passwords(rng):
    """Per-user passwords of this run (written into the broker's password file)."""
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return {u: "".join(rng.choice(alphabet) for _ in range(16)) for u in USERS}


class Client:
    """A paho client whose every TCP connection is recorded in the ConnLog with `label`.

    user None: anonymous; password None: the user's password from ctx.passwords. clean False:
    a persistent session (3.x clean session off; 5.0 clean start off with session_expiry s).
    reconnect: paho reconnects by itself after the broker went away."""

    def __init__(self, ctx, client_id, user, version, keepalive, label="benign", will=None,
                 password=None, clean=True, session_expiry=0, reconnect=False):
        self.ctx = ctx
        self.password = password
        self.clean = clean
        self.session_expiry = session_expiry
        self.reconnect = reconnect
        self.client_id = client_id
        self.user = user
        self.version = version
        self.keepalive = keepalive
        self.label = label
        self.will = will
        self.c = None
        self.rec = None
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.on_message = None
        self.received = 0

    # paho callbacks -------------------------------------------------------------------------
    def _sock_open(self, _c, _u, sock):
        rec = self.rec
        if rec is None or rec["port"] is not None:   # a connection we did not start ourselves
            rec = self.ctx.conns.opening(self.label)
            rec["t0"] -= 1.0
            self.rec = rec
        local = sock.getsockname()
        self.ctx.conns.opened(rec, local[1], local[0])

    def _sock_close(self, _c, _u, _sock):
        if self.rec is not None:
            self.ctx.conns.closed(self.rec)

    def _connect_cb(self, _c, _u, _flags, reason, _props):
        if not reason.is_failure:
            self.connected.set()

    def _subscribe_cb(self, *_a):
        self.subscribed.set()

    def _message_cb(self, _c, _u, msg):
        self.received += 1
        if self.on_message:
            self.on_message(msg)

    # -----------------------------------------------------------------------------------------
    def connect(self, timeout=5.0):
        kw = {"callback_api_version": mqtt.CallbackAPIVersion.VERSION2,
              "client_id": self.client_id, "protocol": self.version,
              "reconnect_on_failure": self.reconnect}
        if self.version != V5:
            kw["clean_session"] = self.clean
        c = mqtt.Client(**kw)
        if self.reconnect:
            c.reconnect_delay_set(min_delay=1, max_delay=2)
        if self.user is not None:
            c.username_pw_set(self.user, self.password if self.password is not None
                              else self.ctx.passwords[self.user])
        if self.will:
            c.will_set(self.will[0], self.will[1], qos=1, retain=True)
        c.on_socket_open = self._sock_open
        c.on_socket_close = self._sock_close
        c.on_connect = self._connect_cb
        c.on_subscribe = self._subscribe_cb
        c.on_message = self._message_cb
        self.connected.clear()
        self.subscribed.clear()
        self.rec = self.ctx.conns.opening(self.label)
        props = None
        if self.version == V5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry
            props.ReceiveMaximum = 20
        try:
            if self.version == V5:
                c.connect(self.ctx.host, self.ctx.port, self.keepalive, clean_start=self.clean,
                          properties=props)
            else:
                c.connect(self.ctx.host, self.ctx.port, self.keepalive)
        except OSError:
            self.ctx.conns.failed(self.rec)
            self.rec = None
            raise
        self.c = c
        c.loop_start()
        if not self.connected.wait(min(timeout, max(0.1, self.ctx.left()))):
            raise RuntimeError(f"{self.client_id}: no CONNACK")

    def publish(self, topic, payload, qos, retain=False, props=None):
        return self.c.publish(topic, payload, qos=qos, retain=retain, properties=props)

    def subscribe(self, topic, qos, props=None, timeout=5.0):
        self.subscribed.clear()
        self.c.subscribe(topic, qos=qos, properties=props)
        self.subscribed.wait(min(timeout, max(0.1, self.ctx.left())))

    def disconnect(self, infos=()):
        if self.c is None:
            return
        for info in infos:                  # let outstanding QoS 1/2 flows finish first
            try:
                info.wait_for_publish(timeout=min(2.0, max(0.1, self.ctx.left())))
            except (RuntimeError, ValueError):
                pass
        try:
            self.c.disconnect()
        except Exception:
            pass
        self.c.loop_stop()
        self.c = None


def json_props(version, expiry=None):
    if version != V5:
        return None
    p = Properties(PacketTypes.PUBLISH)
    p.ContentType = "application/json"
    p.PayloadFormatIndicator = 1
    if expiry:
        p.MessageExpiryInterval = expiry
    return p


class Reading:
    """Plausible values for one device, as a seeded random walk."""

    def __init__(self, name, rng):
        self.name = name
        self.rng = rng
        self.v = {"temperature": 21.0, "light": 300.0, "humidity": 45.0, "co-gas": 2.0,
                  "fan": 1.0}.get(name, 0.0)
        self.state = False
        self.battery = rng.randint(70, 100)

    def next(self, seq):
        r = self.rng
        n = self.name
        d = {"id": f"{n}-1", "seq": seq}
        if n == "temperature":
            self.v = min(28.0, max(16.0, self.v + r.gauss(0, 0.15)))
            d.update(value=round(self.v, 1), unit="C")
        elif n == "light":
            self.v = min(1200.0, max(0.0, self.v + r.gauss(0, 25)))
            d.update(value=int(self.v), unit="lx")
        elif n == "humidity":
            self.v = min(80.0, max(25.0, self.v + r.gauss(0, 0.5)))
            d.update(value=round(self.v, 1), unit="%")
        elif n == "co-gas":
            self.v = min(30.0, max(0.0, self.v + r.gauss(0, 0.4)))
            d.update(value=round(self.v, 2), unit="ppm", alarm=self.v > 25)
        elif n == "motion":
            self.state = not self.state if r.random() < 0.6 else self.state
            d.update(motion=self.state)
        elif n == "smoke":
            d.update(smoke=False, battery=self.battery, test=r.random() < 0.1)
        elif n == "door":
            self.state = not self.state
            d.update(state="open" if self.state else "closed")
        elif n == "fan":
            if r.random() < 0.2:
                self.v = float(r.randint(0, 3))
            d.update(speed=int(self.v), rpm=int(self.v * 600 + r.randint(-20, 20)) if self.v else 0)
        return json.dumps(d, separators=(",", ":"))


def device_loop(ctx, spec, rng, count, tscale, reconnect_p, label="benign"):
    name, topic, qos, version, ka, (lo, hi), kind = spec
    status = f"home/{name}/status"
    cl = Client(ctx, f"{name}-{rng.randrange(16**6):06x}", name, version, ka, label,
                will=(status, "offline"))
    reading = Reading(name, rng)
    infos = []
    cl.connect()
    infos.append(cl.publish(status, "online", 1, retain=True))
    sent = 0
    try:
        while sent < count:
            if not ctx.sleep(rng.uniform(lo, hi) * tscale):
                break
            if kind == "event" and rng.random() < 0.5:
                continue           # nothing happened this time: the keep-alive pings fill the gap
            payload = reading.next(sent)
            infos.append(cl.publish(topic, payload, qos, props=json_props(version, 60)))
            infos = [i for i in infos if not i.is_published()][-50:]
            sent += 1
            if rng.random() < reconnect_p and ctx.left() > 2:
                # A clean reconnect: firmware update check, Wi-Fi roam, ...
                cl.disconnect(infos)
                infos = []
                if not ctx.sleep(rng.uniform(0.1, 0.4)):
                    return sent
                cl.connect()
                infos.append(cl.publish(status, "online", 1, retain=True))
        infos.append(cl.publish(status, "sleeping", 1, retain=True))
    finally:
        cl.disconnect(infos)
    return sent


def dashboard(ctx, rng, count, tscale, ready, label="benign"):
    cl = Client(ctx, f"dashboard-{rng.randrange(16**6):06x}", "dashboard", V5, 5, label)
    cl.connect()
    p = Properties(PacketTypes.SUBSCRIBE)
    p.SubscriptionIdentifier = 1
    cl.subscribe("home/#", 1, props=p)
    ready.set()
    infos = []
    try:
        for seq in range(count):
            if not ctx.sleep(rng.uniform(1.5, 4.0) * tscale):
                break
            cmd = json.dumps({"seq": seq, "speed": rng.randint(0, 3), "by": "dashboard"},
                             separators=(",", ":"))
            infos.append(cl.publish("home/fan/cmd", cmd, 1, props=json_props(V5, 30)))
        ctx.stop.wait(min(0.5, max(0, ctx.left())))   # the last answers come in
    finally:
        cl.disconnect(infos)
    return cl.received


def fan_controller(ctx, rng, ready, done, label="benign"):
    cl = Client(ctx, f"fan-controller-{rng.randrange(16**6):06x}", "fan-controller", V311, 5,
                label, will=("home/fan-controller/status", "offline"))
    infos = []

    def answer(msg):
        try:
            cmd = json.loads(msg.payload)
        except ValueError:
            return
        infos.append(cl.publish("home/fan/ack", json.dumps(
            {"seq": cmd.get("seq"), "speed": cmd.get("speed"), "ok": True},
            separators=(",", ":")), 1))

    cl.on_message = answer
    cl.connect()
    cl.subscribe("home/fan/cmd", 2)
    infos.append(cl.publish("home/fan-controller/status", "online", 1, retain=True))
    ready.set()
    try:
        done.wait(max(0.0, ctx.left()))
    finally:
        cl.disconnect(list(infos))
    return cl.received


def phone_app(ctx, rng, visits, tscale, label="benign"):
    for v in range(visits):
        if not ctx.sleep(rng.uniform(2.0, 5.0) * tscale):
            return
        cl = Client(ctx, f"phone-{rng.randrange(16**6):06x}", "phone", V5 if v % 2 else V311,
                    30, label)
        cl.connect()
        try:
            cl.subscribe("home/+/status", 1)
            ctx.sleep(0.5)
            cl.c.unsubscribe("home/+/status")
            ctx.sleep(0.2)
        finally:
            cl.disconnect()


def _thread(target, *args, **kw):
    def run():
        try:
            target(*args, **kw)
        except Exception as e:  # a failed client shows up as missing traffic in the checks
            errors.append(f"{target.__name__}: {e}")
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


errors = []


def run(ctx, rng, p, background=False):
    """The smart home. p: scale parameters (duration, tscale, reconnect_p, phone_visits).

    With background=True only a few sensors and the dashboard run, until ctx.stop is set:
    benign traffic alongside an attack. Returns a function that waits for everything to end."""
    seeds = {name: rng.randrange(2**32) for name in
             [d[0] for d in DEVICES] + ["dashboard", "fan-controller", "phone"]}
    import random
    R = lambda n: random.Random(seeds[n])  # noqa: E731  one generator per client
    ready_dash, ready_fan, done_fan = threading.Event(), threading.Event(), threading.Event()
    tscale = p["tscale"]
    threads = []
    dash_cmds = max(1, round(p["duration"] / (2.75 * tscale))) if not background else 10**6
    threads.append(_thread(dashboard, ctx, R("dashboard"), dash_cmds, tscale, ready_dash))
    ready_dash.wait(5)
    fan_t = None
    if not background:
        fan_t = _thread(fan_controller, ctx, R("fan-controller"), ready_fan, done_fan)
        ready_fan.wait(5)
    for spec in DEVICES:
        if background and spec[0] not in BACKGROUND_DEVICES:
            continue
        lo, hi = spec[5]
        mean = (lo + hi) / 2 * tscale * (2 if spec[6] == "event" else 1)
        count = max(2, round(p["duration"] / mean)) if not background else 10**6
        threads.append(_thread(device_loop, ctx, spec, R(spec[0]), count, tscale,
                               p["reconnect_p"]))
    if not background:
        threads.append(_thread(phone_app, ctx, R("phone"), p["phone_visits"], tscale))

    def wait():
        for t in threads:
            t.join(max(0.1, ctx.left() + 5))
        done_fan.set()
        if fan_t:
            fan_t.join(max(0.1, ctx.left() + 5))
    return wait
