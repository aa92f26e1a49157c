"""Workers on separate hosts: network namespaces on this machine, and partitions between them.

``Hosts`` makes ``count`` network namespaces, each joined to the root namespace by a veth pair
on a private /30 (``10.213.K.4i+1`` on the root side, ``.4i+2`` inside). A namespace has no
default route and IP forwarding is left as it is (off), so nothing leaves this machine. The
run's services stay in the root namespace: its own Redis also listens on each host's root-side
address (``bind_redis``), and ``chaos.relay`` forwards that address to the others (sandboxes,
PostgreSQL, RabbitMQ) on 127.0.0.1. A worker started with ``wrap`` (``ip netns exec``) gets the
stack's environment with every loopback URL pointed at ``SERVICES``, a name each host's own
``/etc/netns/<namespace>/hosts`` resolves to its root-side address (``ip netns exec`` mounts it
over ``/etc/hosts``): every host reaches the services by the same URLs, as machines of one
deployment reach them by the same DNS names (the Acumatica session pool is keyed by its URL).

``cut`` partitions a host: ``drop`` (the default) points both ends' neighbour entries at an
address no interface has, so every packet either way is silently dropped, as a firewall DROP
or a cut cable would (connections hang until their timeouts); ``down`` sets the link down, so
new connections fail at once and open ones hang. ``heal`` undoes it. ``Partitioner`` cuts one
host at a time every ``every`` seconds for ``seconds`` seconds, driven by ``tick``.

Needs root and iproute2's ``ip``; the namespaces and links are removed on exit, and those of an
earlier run whose process is gone are removed on start.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PREFIX = "swc"
#: The second octet pair of the hosts' subnets; the third is picked per run (unused on start).
NET = "10.213"
#: A MAC no interface has: a neighbour entry pointing there drops every packet silently.
NOWHERE = "02:00:5e:00:53:01"
MODES = ("drop", "down")
#: The name every host's URLs use for the services; each host resolves it to its own side.
SERVICES = "chaos-services"
NETNS_ETC = Path("/etc/netns")
URL_KEYS = ("REDIS_URL", "BROKER_URL", "DATABASE_URL", "XCART_BASE_URL", "ACUMATICA_BASE_URL")
LOOPBACK = ("127.0.0.1", "localhost")
_NAME = re.compile(rf"^{PREFIX}-(\d+)-(\d+)$")


class HostsUnavailable(RuntimeError):
    """The machine cannot make hosts (not root, or no ``ip``)."""


def require() -> str:
    """The path of ``ip``; raises ``HostsUnavailable`` saying what is missing."""
    if os.geteuid() != 0:
        raise HostsUnavailable(
            "--hosts needs root: it makes network namespaces and veth links (run as root, or "
            "leave --hosts out)"
        )
    ip = shutil.which("ip")
    if ip is None:
        raise HostsUnavailable("--hosts needs iproute2's `ip` (apt-get install iproute2)")
    return ip


@dataclass
class Host:
    """One host: its namespace, the two ends of its link and their addresses."""

    index: int
    netns: str
    #: The veth end in the root namespace, and its peer inside ``netns``.
    outer: str
    inner: str
    #: The root-side address (where the host reaches the services) and the host's own.
    gateway: str
    address: str
    cut: str | None = None


@dataclass
class Hosts:
    """The ``count`` hosts of one run (a context manager: made on entry, removed on exit)."""

    count: int
    mode: str = "drop"
    log: Callable[[str], None] = print
    hosts: list[Host] = field(default_factory=list)
    ip: str = "ip"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"partition mode must be one of {MODES}, not {self.mode!r}")
        if not 1 <= self.count <= 60:
            raise ValueError("--hosts takes 1 to 60 hosts")

    # -- life cycle ------------------------------------------------------------------------

    def __enter__(self) -> Hosts:
        self.ip = require()
        remove_stale(self.ip)
        atexit.register(self.close)
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create(self) -> None:
        pid = os.getpid()
        third = _free_third_octet(self._run("-4", "-o", "addr", "show").stdout, pid)
        for i in range(self.count):
            host = Host(
                index=i,
                netns=f"{PREFIX}-{pid}-{i}",
                outer=f"{PREFIX}{pid}h{i}",
                inner=f"{PREFIX}{pid}n{i}",
                gateway=f"{NET}.{third}.{4 * i + 1}",
                address=f"{NET}.{third}.{4 * i + 2}",
            )
            self.hosts.append(host)
            self._run("netns", "add", host.netns)
            self._run(
                "link", "add", host.outer, "type", "veth", "peer", "name", host.inner,
                "netns", host.netns,
            )  # fmt: skip
            self._run("addr", "add", f"{host.gateway}/30", "dev", host.outer)
            self._run("link", "set", host.outer, "up")
            self._run("-n", host.netns, "addr", "add", f"{host.address}/30", "dev", host.inner)
            self._run("-n", host.netns, "link", "set", host.inner, "up")
            self._run("-n", host.netns, "link", "set", "lo", "up")
            etc = NETNS_ETC / host.netns
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "hosts").write_text(
                f"127.0.0.1\tlocalhost\n::1\tlocalhost\n{host.gateway}\t{SERVICES}\n",
                encoding="utf-8",
            )
        self.log(
            f"hosts: {self.count} network namespaces ({', '.join(h.netns for h in self.hosts)}) "
            f"on {NET}.{third}.0/24"
        )

    def close(self) -> None:
        """Remove every namespace and link of this run (idempotent; errors are ignored)."""
        for host in self.hosts:
            _quiet(self.ip, "link", "del", host.outer)
            _quiet(self.ip, "netns", "del", host.netns)
            shutil.rmtree(NETNS_ETC / host.netns, ignore_errors=True)
        self.hosts = []
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([self.ip, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
        return done

    # -- processes on a host ---------------------------------------------------------------

    def wrap(self, host: Host, argv: list[str]) -> list[str]:
        """``argv`` run inside ``host``'s network namespace."""
        return [self.ip, "netns", "exec", host.netns, *argv]

    def env_for(self, host: Host, env: dict[str, str]) -> dict[str, str]:
        """``env`` with every service URL on loopback pointed at :data:`SERVICES`, which
        ``host`` resolves to its root-side address: the same URLs on every host."""
        out = dict(env)
        for key in URL_KEYS:
            if key in out:
                out[key] = _rehost(out[key], SERVICES)
        return out

    def listeners(
        self, env: dict[str, str], skip: tuple[str, ...] = ("REDIS_URL",)
    ) -> list[tuple[str, int]]:
        """Every (root-side address, port) the relay must serve for the URLs in ``env``; the
        ``skip`` keys' services listen on the hosts' side themselves (``bind_redis``)."""
        keys = [key for key in URL_KEYS if key in env and key not in skip]
        ports = sorted({p for key in keys for p in [_loopback_port(env[key])] if p is not None})
        return [(host.gateway, port) for host in self.hosts for port in ports]

    def bind_redis(self, port: int) -> None:
        """Make the run's own Redis on ``port`` listen on every host's root-side address too
        (besides 127.0.0.1): a host then reaches it directly, and sees its connections refused
        while it restarts, as a remote Redis would. Call again after each restart."""
        import redis

        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
        try:
            client.config_set("bind", " ".join(["127.0.0.1", *(h.gateway for h in self.hosts)]))
        finally:
            client.close()

    # -- partitions ------------------------------------------------------------------------

    def cut(self, host: Host) -> None:
        if host.cut:
            return
        if self.mode == "down":
            self._run("-n", host.netns, "link", "set", host.inner, "down")
        else:
            self._run("-n", host.netns, "neigh", "replace", host.gateway, "lladdr", NOWHERE,
                      "nud", "permanent", "dev", host.inner)  # fmt: skip
            self._run("neigh", "replace", host.address, "lladdr", NOWHERE, "nud", "permanent",
                      "dev", host.outer)  # fmt: skip
        host.cut = self.mode

    def heal(self, host: Host) -> None:
        if not host.cut:
            return
        if host.cut == "down":
            self._run("-n", host.netns, "link", "set", host.inner, "up")
        else:
            _quiet(self.ip, "-n", host.netns, "neigh", "del", host.gateway, "dev", host.inner)
            _quiet(self.ip, "neigh", "del", host.address, "dev", host.outer)
        host.cut = None

    def reaches(self, host: Host, port: int, timeout: float = 1.0) -> bool:
        """Whether a TCP connection from inside ``host`` to its root-side ``port`` opens."""
        probe = (
            "import socket, sys\n"
            f"s = socket.socket(); s.settimeout({timeout})\n"
            f"sys.exit(s.connect_ex(({host.gateway!r}, {port})) != 0)"
        )
        done = subprocess.run(
            self.wrap(host, [sys.executable, "-c", probe]), capture_output=True, check=False
        )
        return done.returncode == 0

    def host_of(self, pid: int) -> str | None:
        """The namespace process ``pid`` runs in (``None``: this machine's own)."""
        done = subprocess.run(
            [self.ip, "netns", "identify", str(pid)], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() or None

    def heal_all(self) -> None:
        for host in self.hosts:
            self.heal(host)


@dataclass
class Partitioner:
    """Cuts one host at a time off for ``seconds`` every ``every`` seconds, each host in turn
    (``tick`` decides).

    With ``probe_port``, each cut is checked from inside the host: a TCP connection to that
    port on its root-side address must fail while it is cut off and open again once healed.
    """

    hosts: Hosts
    every: float
    seconds: float
    log: Callable[[str], None] = print
    probe_port: int = 0
    #: One entry per partition: the host, seconds from the first tick to the cut, how long it
    #: lasted, and whether the probes saw the host cut off and back (``None``: no probes).
    partitions: list[dict[str, Any]] = field(default_factory=list)
    started: float | None = None
    next_at: float | None = None
    current: tuple[Host, float, bool | None] | None = None

    def tick(self, now: float) -> None:
        if self.started is None:
            self.started, self.next_at = now, now + self.every
        if self.current is not None:
            host, since, cut_seen = self.current
            if now - since >= self.seconds:
                self.hosts.heal(host)
                self.partitions.append({
                    "host": host.index,
                    "at_seconds": round(since - self.started, 1),
                    "seconds": round(now - since, 1),
                    "cut_seen": cut_seen,
                    "back_seen": self._probe(host, want=True),
                })  # fmt: skip
                self.current = None
                self.next_at = now + self.every
                self.log(f"chaos: host {host.netns} healed after {now - since:.0f} s")
            return
        assert self.next_at is not None
        if now >= self.next_at and self.hosts.hosts:
            host = self.hosts.hosts[len(self.partitions) % len(self.hosts.hosts)]
            self.hosts.cut(host)
            self.current = (host, now, self._probe(host, want=False))
            self.log(
                f"chaos: host {host.netns} cut off ({self.hosts.mode}) for {self.seconds:.0f} s"
            )

    def stop(self, now: float) -> None:
        """Heal the host that is cut off, if any."""
        if self.current is not None:
            self.seconds = 0
            self.tick(now)

    def _probe(self, host: Host, *, want: bool) -> bool | None:
        """Whether ``host`` reaches the probe port as wanted (a healed link gets 10 s)."""
        if not self.probe_port:
            return None
        deadline = time.monotonic() + (10.0 if want else 0.0)
        while True:
            if self.hosts.reaches(host, self.probe_port) == want:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)


def _rehost(url: str, host: str) -> str:
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        return url
    netloc = parts.netloc.rpartition("@")
    userinfo = netloc[0] + "@" if netloc[1] else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{userinfo}{host}{port}"))


_DEFAULT_PORTS = {"redis": 6379, "amqp": 5672, "http": 80, "postgresql": 5432}


def _loopback_port(url: str) -> int | None:
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        return None
    scheme = parts.scheme.split("+", 1)[0]
    return parts.port or _DEFAULT_PORTS.get(scheme)


def _free_third_octet(addresses: str, pid: int) -> int:
    used = {int(m) for m in re.findall(rf"inet {re.escape(NET)}\.(\d+)\.", addresses)}
    for k in range(256):
        third = (pid + k) % 256
        if third not in used:
            return third
    raise RuntimeError(f"no free /24 left in {NET}.0.0/16")


def _quiet(ip: str, *args: str) -> None:
    subprocess.run([ip, *args], capture_output=True, check=False)


def remove_stale(ip: str = "ip") -> list[str]:
    """Remove the namespaces (and links) of earlier runs whose process is gone."""
    listed = subprocess.run([ip, "netns", "list"], capture_output=True, text=True, check=False)
    removed = []
    for line in listed.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        match = _NAME.match(name)
        if not match or _alive(int(match[1])):
            continue
        _quiet(ip, "link", "del", f"{PREFIX}{match[1]}h{match[2]}")
        _quiet(ip, "netns", "del", name)
        shutil.rmtree(NETNS_ETC / name, ignore_errors=True)
        removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
