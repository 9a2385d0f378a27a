"""Network namespaces of one corpus run: a bridge namespace, one namespace per host, NAT routers.

Every namespace this module makes is recorded, and cleanup() deletes exactly those (never one it
did not make). Names share one prefix that is unique per run; start() refuses to run when any
namespace with that prefix already exists.
"""

import ctypes
import ipaddress
import os
import subprocess
import threading

from gen_dataset.infra import GenError

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def existing():
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=20)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def enter(ns):
    """Move the calling thread (only it) into namespace `ns`: the sockets it opens from now on,
    and the threads it starts, live there."""
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise GenError(f"setns({ns}): {os.strerror(err)}")
    finally:
        os.close(fd)


class Net:
    """The namespaces of one environment, all named prefix + a short role name."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.made = []               # namespaces created, in order
        self.lock = threading.Lock()
        self.bridge = None
        self.links = 0

    def _ip(self, *args, ns=None):
        argv = ["ip"] + (["-n", ns] if ns else []) + list(args)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            raise GenError(f"{' '.join(argv)}: {r.stderr.strip()}")

    def _exec(self, ns, argv, stdin=None):
        r = subprocess.run(["ip", "netns", "exec", ns] + argv, input=stdin, capture_output=True,
                           text=True, timeout=20)
        if r.returncode != 0:
            raise GenError(f"in {ns}: {' '.join(argv)}: {r.stderr.strip()}")

    def check_prefix(self):
        clash = [n for n in existing() if n.startswith(self.prefix)]
        if clash:
            raise GenError(f"network namespaces with prefix {self.prefix!r} exist already: "
                           f"{', '.join(clash[:5])}; refusing to start")

    def add_ns(self, role):
        name = self.prefix + role
        with self.lock:
            subprocess.run(["ip", "netns", "add", name], check=False, capture_output=True,
                           timeout=20)
            if not os.path.exists(f"/run/netns/{name}"):
                raise GenError(f"could not create network namespace {name}")
            self.made.append(name)
        self._ip("link", "set", "lo", "up", ns=name)
        return name

    def make_bridge(self):
        self.bridge = self.add_ns("br")
        self._ip("link", "add", "br0", "type", "bridge", ns=self.bridge)
        self._ip("link", "set", "br0", "up", ns=self.bridge)
        return self.bridge

    def _veth(self, ns, bridge_ns, bridge_dev, ip, plen, ifname="eth0"):
        self.links += 1
        peer = f"v{self.links}"
        self._ip("link", "add", peer, "type", "veth", "peer", "name", ifname, "netns", ns,
                 ns=bridge_ns)
        self._ip("link", "set", peer, "master", bridge_dev, "up", ns=bridge_ns)
        self._ip("addr", "add", f"{ip}/{plen}", "dev", ifname, ns=ns)
        self._ip("link", "set", ifname, "up", ns=ns)

    def add_host(self, role, ip, plen):
        """A host on the environment's bridge: its own namespace, one veth, one address."""
        ns = self.add_ns(role)
        self._veth(ns, self.bridge, "br0", ip, plen)
        return ns

    def add_router(self, role, wan_ip, plen, lan):
        """A NAT router: WAN on the bridge, a LAN bridge of its own with `lan` (a network),
        nftables masquerading everything that leaves through the WAN side."""
        ns = self.add_host(role, wan_ip, plen)
        net = ipaddress.ip_network(lan)
        gw = str(net.network_address + 1)
        self._ip("link", "add", "lan0", "type", "bridge", ns=ns)
        self._ip("addr", "add", f"{gw}/{net.prefixlen}", "dev", "lan0", ns=ns)
        self._ip("link", "set", "lan0", "up", ns=ns)
        self._exec(ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        self._exec(ns, ["nft", "-f", "-"], stdin=(
            "table ip nat {\n"
            "  chain postrouting {\n"
            "    type nat hook postrouting priority srcnat; policy accept;\n"
            "    oifname \"eth0\" masquerade\n"
            "  }\n"
            "}\n"))
        return ns, gw

    def add_lan_host(self, role, router_ns, gw, ip, plen):
        """A device behind a NAT router: address on the router's LAN, default route via it."""
        ns = self.add_ns(role)
        self._veth(ns, router_ns, "lan0", ip, plen)
        self._ip("route", "add", "default", "via", gw, ns=ns)
        return ns

    def cleanup(self):
        """Delete exactly the namespaces made here (their veths go with them)."""
        errors = []
        with self.lock:
            made, self.made = list(self.made), []
        for name in reversed(made):
            r = subprocess.run(["ip", "netns", "del", name], capture_output=True, text=True,
                               timeout=20)
            if r.returncode != 0 and os.path.exists(f"/run/netns/{name}"):
                errors.append(f"{name}: {r.stderr.strip()}")
        return errors
