"""``make run`` supervises its processes: a crash is restarted, a configuration error is not."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sync_workers import devrun
from sync_workers.devrun import Service


def _exits(code: int, marker: str = "") -> list[str]:
    script = f"import pathlib, sys; pathlib.Path({marker!r}).open('a').write('x') if {marker!r} else None; sys.exit({code})"
    return [sys.executable, "-c", script]


def _wait_exit(service: Service) -> None:
    assert service.proc is not None
    service.proc.wait(10)


def test_a_crashed_process_is_started_again(tmp_path):
    marker = tmp_path / "starts"
    service = Service("worker", _exits(1, str(marker)), "test")
    service.start()
    _wait_exit(service)
    assert devrun.supervise([service])  # restarted, not given up
    _wait_exit(service)
    assert marker.read_text() == "xx"  # it really ran a second time
    assert len(service.restarts) == 1


def test_a_configuration_error_stops_everything(capsys):
    service = Service("worker", _exits(devrun.CONFIG_ERROR), "test")
    service.start()
    _wait_exit(service)
    assert not devrun.supervise([service])
    assert "configuration error" in capsys.readouterr().err


def test_restarts_are_bounded_within_the_window(capsys):
    service = Service("beat", _exits(1), "test")
    service.start()
    for _ in range(devrun.RESTART_LIMIT):
        _wait_exit(service)
        assert devrun.supervise([service])
    _wait_exit(service)
    assert not devrun.supervise([service])
    assert f"{devrun.RESTART_LIMIT} restarts" in capsys.readouterr().err
    # Restarts older than the window no longer count.
    service.restarts = [time.monotonic() - devrun.RESTART_WINDOW_SECONDS - 1] * devrun.RESTART_LIMIT
    assert devrun.supervise([service])
    _wait_exit(service)


def test_a_running_process_is_left_alone():
    service = Service("worker", [sys.executable, "-c", "import time; time.sleep(30)"], "test")
    service.start()
    try:
        assert devrun.supervise([service])
        assert service.restarts == []
    finally:
        assert service.proc is not None
        service.proc.kill()
        service.proc.wait()


def _on_sigterm(log: Path, name: str, linger: float) -> list[str]:
    script = (
        "import pathlib, signal, sys, time\n"
        "def stop(*_):\n"
        f"    time.sleep({linger})\n"
        f"    pathlib.Path({str(log)!r}).open('a').write({name!r} + ' stopped\\n')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        f"pathlib.Path({str(log)!r}).open('a').write({name!r} + ' up\\n')\n"
        "while True:\n"
        "    time.sleep(0.05)\n"
    )
    return [sys.executable, "-c", script]


def test_the_sandboxes_stop_after_the_processes_that_use_them(tmp_path, capsys) -> None:
    log = tmp_path / "log"
    sandboxes = Service("sandboxes", _on_sigterm(log, "sandboxes", 0), "test", serves_others=True)
    worker = Service("worker", _on_sigterm(log, "worker", 1.0), "test")
    services = [sandboxes, worker]
    for service in services:
        service.start()
    deadline = time.monotonic() + 10
    while (not log.exists() or log.read_text().count(" up") < 2) and time.monotonic() < deadline:
        time.sleep(0.05)

    devrun.stop_all(services)

    # The worker's warm shutdown (here: one second) ends before the sandboxes get their SIGTERM.
    assert log.read_text().splitlines()[-2:] == ["worker stopped", "sandboxes stopped"]
    assert all(s.proc is not None and s.proc.returncode == 0 for s in services)
    assert "everything stopped" in capsys.readouterr().out
