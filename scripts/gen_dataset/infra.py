"""Broker, capture and connection bookkeeping for gen-dataset.py.

Every process is started here with its PID kept, and stopped by that PID (TERM, bounded wait, then
KILL). Nothing is ever looked up or killed by name.
"""

import hashlib
import os
import shutil
import signal
import subprocess
import threading
import time

HOST = "127.0.0.1"

_procs = []          # every Popen we started and have not reaped yet
_procs_lock = threading.Lock()


class GenError(Exception):
    """A failure with a message meant for the user."""


LOG_NAME = "gen-dataset"      # the generator's name in front of every log line


def log(msg):
    print(f"[{LOG_NAME}] {msg}", flush=True)


# A signal that arrives while a process is being started waits until its PID is on record,
# so that the cleanup can always stop it (see defer_signals / signal_arrived).
_starting = 0
_pending_signal = None


def signal_arrived(signum):
    """Called by the script's signal handler: True if the signal has to wait."""
    global _pending_signal
    if _starting:
        _pending_signal = signum
        return True
    return False


def start_proc(argv, **kw):
    global _starting, _pending_signal
    _starting += 1
    try:
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        with _procs_lock:
            _procs.append(p)
    finally:
        _starting -= 1
    if _pending_signal is not None and not _starting:
        signum, _pending_signal = _pending_signal, None
        raise KeyboardInterrupt(f"signal {signum}")
    return p


def stop_proc(p, grace=5.0):
    """Stop one process we started: SIGTERM, wait up to `grace` s, then SIGKILL."""
    if p is None:
        return None
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
    with _procs_lock:
        if p in _procs:
            _procs.remove(p)
    return p.returncode


def stop_all():
    with _procs_lock:
        procs = list(_procs)
    for p in reversed(procs):
        try:
            stop_proc(p, grace=3.0)
        except Exception:  # cleanup must go on
            pass


def listening_ports(pid=None):
    """Ports with a listening TCP socket (any address), from /proc/net/tcp{,6}: of this process's
    network namespace, or of the one process `pid` is in."""
    ports = set()
    base = "/proc/net" if pid is None else f"/proc/{pid}/net"
    for name in (f"{base}/tcp", f"{base}/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] == "0A":
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def wait_until(what, cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise GenError(f"timed out after {timeout:.0f} s waiting for {what}")


def tool_version(argv, pick=None):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or "") + (out.stderr or "")
    for line in text.splitlines():
        if pick is None or pick in line:
            return line.strip()
    return "unknown"


class Broker:
    """A private mosquitto on 127.0.0.1:port with its config, password file and log in `workdir`.

    users: {name: password}; anonymous: whether clients without credentials are accepted
    (named users must always give their right password). host: the address to listen on; netns:
    the network namespace to run in (None: this one)."""

    def __init__(self, workdir, port, users, anonymous, host=HOST, netns=None):
        self.dir = workdir
        self.port = port
        self.host = host
        self.netns = netns
        self.proc = None
        os.makedirs(workdir, exist_ok=True)
        passwd = os.path.join(workdir, "passwd")
        open(passwd, "w").close()
        for user, pw in users.items():
            r = subprocess.run(["mosquitto_passwd", "-b", passwd, user, pw],
                               capture_output=True, text=True, timeout=20)
            if r.returncode != 0:
                raise GenError(f"mosquitto_passwd failed: {r.stderr.strip()}")
        self.log_path = os.path.join(workdir, "broker.log")
        self.conf = os.path.join(workdir, "mosquitto.conf")
        lines = [
            f"listener {port} {host}",
            "persistence false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "connection_messages false",
            f"password_file {passwd}",
            f"allow_anonymous {'true' if anonymous else 'false'}",
            "max_keepalive 65535",
        ]
        if os.geteuid() == 0:
            lines.append("user root")   # stay root so the broker can read the private directory
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        if self.netns is None and self.port in listening_ports():
            raise GenError(f"port {self.port} is already in use; pick another with --port")
        self._log = open(self.log_path, "a")
        self.proc = start_proc(netns_argv(self.netns) + ["mosquitto", "-c", self.conf],
                               stdout=self._log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
        try:
            wait_until(f"mosquitto listening on {self.host}:{self.port}",
                       lambda: self.proc.poll() is None
                       and self.port in listening_ports(self.proc.pid), 10)
        except GenError:
            raise GenError(f"mosquitto did not start; log:\n{self.tail()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n=15):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        stop_proc(self.proc)
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None


def sha256(path):
    """The file's SHA-256, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def netns_argv(netns):
    """The command prefix that runs a program in network namespace `netns` (None: this one)."""
    return ["ip", "netns", "exec", netns] if netns else []


class Capture:
    """tcpdump on lo (or `iface` in namespace `netns`), only the broker's port (and `host`),
    written packet by packet (-U)."""

    def __init__(self, workdir, port, path, iface="lo", host=HOST, netns=None):
        self.path = path
        self.port = port
        self.iface = iface
        self.host = host
        self.netns = netns
        self.err_path = os.path.join(workdir, "tcpdump.log")
        self.proc = None
        self.dropped = None

    def start(self):
        argv = netns_argv(self.netns) + ["tcpdump", "-i", self.iface, "-n", "-s", "65600",
                                         "-B", "65536", "-U", "-w", self.path]
        if os.geteuid() == 0:
            argv += ["-Z", "root"]
        argv.append(f"host {self.host} and tcp port {self.port}" if self.host
                    else f"tcp port {self.port}")
        self._err = open(self.err_path, "w")
        self.proc = start_proc(argv, stdout=subprocess.DEVNULL, stderr=self._err,
                               stdin=subprocess.DEVNULL)

        def ready():
            if self.proc.poll() is not None:
                raise GenError(f"tcpdump exited: {self._read_err()}")
            return "listening on" in self._read_err()
        wait_until("tcpdump to start", ready, 10)

    def _read_err(self):
        try:
            with open(self.err_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        # Without --immediate-mode tcpdump reads the kernel's ring a block at a time, and a
        # block is handed over at the latest 1 s (tcpdump's buffer timeout) after it was opened:
        # waiting that long means every packet sent before stop() is in the file. (Immediate mode
        # uses one ring slot per packet and drops packets in bursts of a few hundred.)
        time.sleep(1.1)
        stop_proc(self.proc)
        self.proc = None
        self._err.close()
        for line in self._read_err().splitlines():
            if "dropped by kernel" in line:
                try:
                    self.dropped = int(line.split()[0])
                except ValueError:
                    pass
        return self.dropped


class ConnLog:
    """Which client opened which TCP connection, and as what class.

    Each record: label, t0 (wall clock before connect), port (local port, once connected), ip
    (local address, when several hosts share the log), t1 (wall clock after close; None while
    open). Captured streams are matched to these by client address, port and time, which is how
    every stream gets exactly one label."""

    def __init__(self):
        self.lock = threading.Lock()
        self.recs = []

    def opening(self, label):
        rec = {"label": label, "t0": time.time(), "port": None, "ip": None, "t1": None}
        with self.lock:
            self.recs.append(rec)
        return rec

    def opened(self, rec, port, ip=None):
        rec["port"] = port
        rec["ip"] = ip

    def closed(self, rec):
        if rec["t1"] is None:
            rec["t1"] = time.time()

    def failed(self, rec):
        with self.lock:
            if rec in self.recs:
                self.recs.remove(rec)

    def snapshot(self):
        with self.lock:
            return [dict(r) for r in self.recs]


class Workspace:
    """A private temporary directory, removed by cleanup()."""

    def __init__(self, base=None):
        import tempfile
        self.path = tempfile.mkdtemp(prefix="mqtt-ml-dataset.", dir=base)

    def sub(self, name):
        p = os.path.join(self.path, name)
        os.makedirs(p, exist_ok=True)
        return p

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Ctx:
    """What every scenario gets: where the broker is, the connection log, a stop flag, a deadline."""

    def __init__(self, host, port, conns, deadline, passwords=None):
        self.host = host
        self.port = port
        self.conns = conns
        self.deadline = deadline          # time.monotonic() value nobody may run past
        self.soft_end = deadline          # after this, loops wind down (disconnect cleanly)
        self.stop = threading.Event()
        self.passwords = passwords or {}
        # Called first by every worker thread a scenario starts, with the worker's index (the
        # corpus generator puts each worker into its own host's network namespace here).
        self.thread_init = lambda _index: None

    def left(self):
        return self.deadline - time.monotonic()

    def sleep(self, secs):
        """Sleep, but never past the soft end or a stop; False if we should wind down."""
        soft = self.soft_end - time.monotonic()
        secs = min(secs, self.left(), soft)
        if secs > 0:
            self.stop.wait(secs)
        return not self.stop.is_set() and self.left() > 0 and self.soft_end > time.monotonic()
