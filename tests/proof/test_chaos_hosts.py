"""``python -m chaos --hosts``: workers in network namespaces the run makes, cut off and healed.

The pieces first (URLs pointed at a host, the relay, a cut that drops every packet or takes the
link down, the clean-up), then one short run whose two workers live on two hosts, each cut off
once from the broker, Redis, the sandboxes and the ledger: the invariants still hold.
Namespaces need root: outside CI the tests that make them are skipped when not root.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos import hosts as hosts_module
from chaos.hosts import Hosts, HostsUnavailable, Partitioner, remove_stale

REPO = Path(__file__).resolve().parents[2]


def _needs_root() -> None:
    if os.geteuid() == 0 and shutil.which("ip"):
        return
    message = "network namespaces need root and iproute2's ip"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in listed.stdout.splitlines() if line.split()}


def test_a_host_gets_every_loopback_url_pointed_at_its_side_of_the_link() -> None:
    hosts = Hosts(2)
    hosts.hosts = [
        hosts_module.Host(0, "swc-1-0", "swc1h0", "swc1n0", "10.213.5.1", "10.213.5.2"),
        hosts_module.Host(1, "swc-1-1", "swc1h1", "swc1n1", "10.213.5.5", "10.213.5.6"),
    ]
    env = {
        "REDIS_URL": "redis://127.0.0.1:41000/0",
        "BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/sync-workers-chaos-1-x",
        "DATABASE_URL": "postgresql+psycopg://postgres@localhost/sync_workers_chaos_1",
        "XCART_BASE_URL": "http://127.0.0.1:41001",
        "ACUMATICA_BASE_URL": "https://erp.example.com/",
        "XCART_API_TOKEN": "sandbox-rw",
    }

    moved = hosts.env_for(hosts.hosts[1], env)

    # Every host uses the same URLs (its own /etc/hosts resolves the name to its side).
    assert hosts.env_for(hosts.hosts[0], env) == moved
    assert moved["REDIS_URL"] == "redis://chaos-services:41000/0"
    assert moved["BROKER_URL"] == "amqp://guest:guest@chaos-services:5672/sync-workers-chaos-1-x"
    assert (
        moved["DATABASE_URL"] == "postgresql+psycopg://postgres@chaos-services/sync_workers_chaos_1"
    )
    assert moved["XCART_BASE_URL"] == "http://chaos-services:41001"
    assert moved["ACUMATICA_BASE_URL"] == env["ACUMATICA_BASE_URL"]  # not on this machine
    assert moved["XCART_API_TOKEN"] == "sandbox-rw"
    # The run's own Redis (41000) listens on the hosts' addresses itself: no relay for it.
    assert hosts.listeners({**env, "DATABASE_URL": "sqlite:////tmp/ledger.sqlite3"}) == [
        (gateway, port) for gateway in ("10.213.5.1", "10.213.5.5") for port in (5672, 41001)
    ]


def test_without_root_the_run_refuses_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chaos.__main__ import main

    monkeypatch.setattr(hosts_module.os, "geteuid", lambda: 1000)
    with pytest.raises(HostsUnavailable, match="needs root"):
        hosts_module.require()

    assert main(["--hosts", "2", "--orders", "1"]) == 2
    assert "--hosts needs root" in capsys.readouterr().err


@pytest.fixture
def echo() -> Iterator[int]:
    """A TCP echo server on 127.0.0.1 of this namespace; yields its port."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


ECHO_CLIENT = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
s.sendall(b"ping")
sys.stdout.write(s.recv(4).decode())
"""


@pytest.mark.parametrize("mode", ["drop", "down"])
def test_a_host_reaches_loopback_services_through_the_relay_until_it_is_cut_off(
    mode: str, echo: int
) -> None:
    _needs_root()
    before = _namespaces()
    with Hosts(2, mode, log=lambda _: None) as hosts:
        made = _namespaces() - before
        assert made == {h.netns for h in hosts.hosts}
        outer = [h.outer for h in hosts.hosts]
        env = {"XCART_BASE_URL": f"http://127.0.0.1:{echo}"}
        relay = subprocess.Popen(
            [sys.executable, "-m", "chaos.relay",
             *[f"{addr}:{port}" for addr, port in hosts.listeners(env)]],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert relay.stdout is not None and "2 listeners up" in relay.stdout.readline()
            host, other = hosts.hosts
            # Inside a host, 127.0.0.1 is the host's own: the service is only on the far side,
            # under the name every host's URLs use.
            assert _echo(hosts, host, "127.0.0.1", echo) is None
            assert _echo(hosts, host, host.gateway, echo) == "ping"
            assert _echo(hosts, other, hosts_module.SERVICES, echo) == "ping"

            partitioner = Partitioner(hosts, every=0, seconds=0, probe_port=echo)
            partitioner.tick(0.0)  # cuts a host off (every=0: at once)
            cut = partitioner.current[0] if partitioner.current else None
            assert cut is not None and cut.cut == mode
            assert _echo(hosts, cut, cut.gateway, echo) is None
            spared = other if cut is host else host
            assert _echo(hosts, spared, spared.gateway, echo) == "ping"
            partitioner.tick(1.0)  # heals it

            [partition] = partitioner.partitions
            assert partition["cut_seen"] is True and partition["back_seen"] is True
            assert _echo(hosts, cut, cut.gateway, echo) == "ping"
        finally:
            relay.terminate()
            relay.wait(10)
    assert _namespaces() == before
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    assert not any(f" {name}@" in links.stdout for name in outer), "a veth is left"


def _echo(hosts: Hosts, host: hosts_module.Host, address: str, port: int) -> str | None:
    done = subprocess.run(
        hosts.wrap(host, [sys.executable, "-c", ECHO_CLIENT, address, str(port)]),
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout if done.returncode == 0 else None


def test_namespaces_of_a_run_whose_process_is_gone_are_removed_on_start() -> None:
    _needs_root()
    gone = subprocess.Popen(["true"])
    gone.wait()
    name, link = f"swc-{gone.pid}-0", f"swc{gone.pid}h0"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(
        ["ip", "link", "add", link, "type", "veth", "peer", "name", "x0", "netns", name],
        check=True,
    )
    mine = f"swc-{os.getpid()}-99"  # a live process's namespace stays
    subprocess.run(["ip", "netns", "add", mine], check=True)
    try:
        assert name in remove_stale()
        assert name not in _namespaces() and mine in _namespaces()
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
        assert f" {link}@" not in links.stdout
    finally:
        subprocess.run(["ip", "netns", "del", mine], check=False)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


# About a minute and a half: set-up, 12 orders, two partitions, and the engine settling (a
# worker cut off for longer than its Acumatica sign-in waits out the login limit: 30 s).
@pytest.mark.timeout(420)
def test_workers_on_two_hosts_each_cut_off_once_keep_every_invariant(
    tmp_path: Path, postgres_url: str
) -> None:
    _needs_root()
    before = _namespaces()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REDIS_", "DATABASE", "BROKER_URL"))
    }
    env["BENCH_POSTGRES"] = postgres_url.rsplit("/", 1)[0].replace(
        "postgresql://", "postgresql+psycopg://", 1
    )
    output = tmp_path / "verdict.json"
    argv = [
        sys.executable, "-m", "chaos", "--orders", "12", "--bad", "2", "--rate", "4",
        "--kill-every", "0", "--hosts", "2", "--workers", "2", "--partition-every", "4",
        "--partition-seconds", "8", "--database", "postgres", "--settle-timeout", "300",
        "--output", str(output),
    ]  # fmt: skip
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=400)

    tail = (done.stdout + done.stderr)[-3000:]
    assert done.returncode == 0, tail
    result = json.loads(output.read_text(encoding="utf-8"))
    assert result["invariants"]["ok"] is True, tail
    counts = result["invariants"]["counts"]
    assert counts["sales_orders"] == 12 and counts["lost_orders"] == 0
    assert counts["duplicated_sales_orders"] == 0 and counts["bad_orders_not_dead_lettered"] == 0
    hosts = result["hosts"]
    # Each worker ran inside its own host's namespace, not on this machine.
    assert sorted(hosts["workers"]) == ["worker0", "worker1"]
    assert all(netns and netns.startswith("swc-") for netns in hosts["workers"].values())
    assert len(set(hosts["workers"].values())) == 2
    # Both hosts were cut off at least once, and the probes saw each cut and each heal.
    assert {p["host"] for p in hosts["partitions"]} == {0, 1}, hosts["partitions"]
    assert all(p["cut_seen"] and p["back_seen"] for p in hosts["partitions"])
    assert result["kills"] == 0
    assert _namespaces() == before, "the run left namespaces behind"
