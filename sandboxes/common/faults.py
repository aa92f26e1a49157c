"""Fault injection shared by the sandboxes: latency, 5xx, 429, held requests, dropped connections.

Configuration (JSON, also accepted from an environment variable at start-up)::

    {"latency_ms": {"GET": 0, "PUT": {"min": 5, "max": 40}, "*": 0},
     "rules": [{"path": "^/api/orders", "method": "PUT", "p500": 0.0, "p503": 0.0,
                "p429": 0.0, "ptimeout": 0.0, "preset": 0.0, "after_commit": false}],
     "timeout_seconds": 30, "cold_start_timeout": false, "seed": null}

``ptimeout`` holds the request for ``timeout_seconds`` and then drops the connection without an
answer; ``preset`` drops the connection at once. With ``after_commit`` the request is processed
and its effects stored first, and only the answer is lost (or replaced by the error status): the
case where a client must not repeat a write that was applied. ``cold_start_timeout`` makes the
first request after start (or after the option is posted) hang like ``ptimeout``.
The first matching rule whose dice roll fires decides; the control surface is never faulted.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, jsonify, request

from sandboxes.common.stats import RequestStats

FAULT_KINDS = ("p500", "p503", "p429", "ptimeout", "preset")
CONTROL_PREFIX = "/_sandbox"
ENV_VAR = "SANDBOX_FAULTS"

ErrorRenderer = Callable[[int], Response]


class FaultConfigError(ValueError):
    """The fault configuration is not valid; the message names the bad field."""


@dataclass(frozen=True)
class Latency:
    min_ms: float = 0.0
    max_ms: float = 0.0

    @classmethod
    def parse(cls, key: str, raw: Any) -> Latency:
        if isinstance(raw, bool):
            raise FaultConfigError(f"latency_ms.{key} must be a number or {{min, max}}")
        if isinstance(raw, int | float):
            value = float(raw)
            low, high = value, value
        elif isinstance(raw, Mapping):
            try:
                low, high = float(raw.get("min", 0)), float(raw.get("max", raw.get("min", 0)))
            except (TypeError, ValueError) as exc:
                raise FaultConfigError(f"latency_ms.{key}: min and max must be numbers") from exc
        else:
            raise FaultConfigError(f"latency_ms.{key} must be a number or {{min, max}}")
        if low < 0 or high < low:
            raise FaultConfigError(f"latency_ms.{key}: need 0 <= min <= max")
        return cls(low, high)

    def to_json(self) -> Any:
        if self.min_ms == self.max_ms:
            return self.min_ms
        return {"min": self.min_ms, "max": self.max_ms}


@dataclass(frozen=True)
class FaultRule:
    path: str = ".*"
    method: str = "*"
    probabilities: dict[str, float] = field(default_factory=dict)
    after_commit: bool = False

    @classmethod
    def parse(cls, index: int, raw: Any) -> FaultRule:
        where = f"rules[{index}]"
        if not isinstance(raw, Mapping):
            raise FaultConfigError(f"{where} must be an object")
        unknown = set(raw) - {"path", "method", "after_commit", *FAULT_KINDS}
        if unknown:
            raise FaultConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
        path = raw.get("path", ".*")
        try:
            re.compile(path)
        except (re.error, TypeError) as exc:
            raise FaultConfigError(f"{where}.path is not a valid regular expression") from exc
        method = str(raw.get("method", "*")).upper()
        probabilities: dict[str, float] = {}
        for kind in FAULT_KINDS:
            value = raw.get(kind, 0.0)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise FaultConfigError(f"{where}.{kind} must be a probability between 0 and 1")
            probabilities[kind] = float(value)
        if sum(probabilities.values()) > 1.0 + 1e-9:
            raise FaultConfigError(f"{where}: probabilities add up to more than 1")
        return cls(path, method, probabilities, bool(raw.get("after_commit", False)))

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and re.search(self.path, path) is not None

    def roll(self, rng: random.Random) -> str | None:
        draw = rng.random()
        cumulative = 0.0
        for kind in FAULT_KINDS:
            p = self.probabilities.get(kind, 0.0)
            cumulative += p
            if p > 0 and draw < cumulative:
                return kind
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "method": self.method,
            **self.probabilities,
            "after_commit": self.after_commit,
        }


@dataclass(frozen=True)
class FaultConfig:
    latency_ms: dict[str, Latency] = field(default_factory=dict)
    rules: tuple[FaultRule, ...] = ()
    timeout_seconds: float = 30.0
    cold_start_timeout: bool = False
    seed: int | None = None

    @classmethod
    def from_json(cls, data: Any) -> FaultConfig:
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise FaultConfigError("fault configuration must be a JSON object")
        unknown = set(data) - {
            "latency_ms",
            "rules",
            "timeout_seconds",
            "cold_start_timeout",
            "seed",
        }
        if unknown:
            raise FaultConfigError(f"unknown key {sorted(unknown)[0]!r}")
        latency_raw = data.get("latency_ms") or {}
        if not isinstance(latency_raw, Mapping):
            raise FaultConfigError("latency_ms must be an object keyed by HTTP method or '*'")
        latency = {str(k).upper(): Latency.parse(str(k), v) for k, v in latency_raw.items()}
        rules_raw = data.get("rules") or []
        if not isinstance(rules_raw, list):
            raise FaultConfigError("rules must be a list")
        rules = tuple(FaultRule.parse(i, r) for i, r in enumerate(rules_raw))
        timeout = data.get("timeout_seconds", 30.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise FaultConfigError("timeout_seconds must be a number >= 0")
        seed = data.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise FaultConfigError("seed must be an integer or null")
        return cls(latency, rules, float(timeout), bool(data.get("cold_start_timeout")), seed)

    @classmethod
    def from_text(cls, text: str) -> FaultConfig:
        """Parse JSON text, or read it from a file when ``text`` names one (``@path`` or a path)."""
        text = text.strip()
        if text.startswith("@") or (text and not text.startswith("{") and os.path.exists(text)):
            with open(text.lstrip("@"), encoding="utf-8") as fh:
                text = fh.read()
        try:
            return cls.from_json(json.loads(text)) if text else cls()
        except json.JSONDecodeError as exc:
            raise FaultConfigError(f"fault configuration is not valid JSON: {exc.msg}") from exc

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_ms": {k: v.to_json() for k, v in self.latency_ms.items()},
            "rules": [r.to_json() for r in self.rules],
            "timeout_seconds": self.timeout_seconds,
            "cold_start_timeout": self.cold_start_timeout,
            "seed": self.seed,
        }


def default_error(status: int) -> Response:
    messages = {500: "Internal Server Error", 503: "Service Unavailable", 429: "Too Many Requests"}
    response = jsonify({"message": messages.get(status, "Error"), "sandbox_fault": True})
    response.status_code = status
    if status in (429, 503):
        response.headers["Retry-After"] = "1"
    return response


class FaultInjector:
    """Decides and performs faults for one app; install with :meth:`attach`.

    ``render_error(status)`` shapes the body of injected 500/503/429 answers so they look like the
    emulated system's own errors.
    """

    def __init__(
        self,
        config: FaultConfig | None = None,
        *,
        render_error: ErrorRenderer = default_error,
        env_var: str | None = ENV_VAR,
    ) -> None:
        if config is None and env_var and os.environ.get(env_var):
            config = FaultConfig.from_text(os.environ[env_var])
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.render_error = render_error
        self.configure(config or FaultConfig())

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig | Mapping[str, Any] | None) -> FaultConfig:
        """Replace the whole configuration (missing keys take defaults); held requests are freed."""
        if not isinstance(config, FaultConfig):
            config = FaultConfig.from_json(config)
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)
            self._cold_pending = config.cold_start_timeout
            self._release.set()
            self._release = threading.Event()
        return config

    def release_holds(self) -> None:
        """Let every request held by a timeout fault go (it is then dropped)."""
        with self._lock:
            self._release.set()
            self._release = threading.Event()

    def latency_seconds(self, method: str) -> float:
        config = self._config
        latency = config.latency_ms.get(method) or config.latency_ms.get("*")
        if latency is None or latency.max_ms <= 0:
            return 0.0
        with self._lock:
            ms = self._rng.uniform(latency.min_ms, latency.max_ms)
        return ms / 1000.0

    def choose(self, method: str, path: str, *, after_commit: bool) -> str | None:
        """Roll the dice of the first matching rules; ``None`` when no fault fires."""
        with self._lock:
            for rule in self._config.rules:
                if rule.after_commit == after_commit and rule.matches(method, path):
                    kind = rule.roll(self._rng)
                    if kind:
                        return kind
        return None

    def take_cold_start(self) -> bool:
        with self._lock:
            pending, self._cold_pending = self._cold_pending, False
            return pending

    def perform(self, kind: str) -> Response:
        """Answer (or not) for a fault of ``kind``; must run inside a request."""
        if kind == "p500":
            return self.render_error(500)
        if kind == "p503":
            return self.render_error(503)
        if kind == "p429":
            return self.render_error(429)
        if kind == "ptimeout":
            with self._lock:
                release = self._release
            release.wait(self._config.timeout_seconds)
        return _drop_connection()

    def attach(self, app: Flask, stats: RequestStats | None = None) -> None:
        """Install request hooks that count requests and inject faults (control surface exempt)."""

        @app.before_request
        def _sandbox_before() -> Response | None:
            if request.path.startswith(CONTROL_PREFIX):
                return None
            g.sandbox_counted = True
            if stats is not None:
                stats.begin(request.method, request.path)
            delay = self.latency_seconds(request.method)
            if delay:
                time.sleep(delay)
            kind = "ptimeout" if self.take_cold_start() else None
            kind = kind or self.choose(request.method, request.path, after_commit=False)
            g.sandbox_after_fault = self.choose(request.method, request.path, after_commit=True)
            if kind:
                g.sandbox_after_fault = None
                if stats is not None:
                    stats.record_fault(kind)
                return self.perform(kind)
            return None

        @app.after_request
        def _sandbox_after(response: Response) -> Response:
            if not g.get("sandbox_counted"):
                return response
            kind = g.pop("sandbox_after_fault", None)
            if kind:
                if stats is not None:
                    stats.record_fault(kind)
                response = self.perform(kind)
            if stats is not None and not getattr(response, "sandbox_dropped", False):
                stats.record_status(response.status_code)
            return response

        @app.teardown_request
        def _sandbox_teardown(_exc: BaseException | None) -> None:
            if g.pop("sandbox_counted", False) and stats is not None:
                stats.end()


def _drop_connection() -> Response:
    """Close the client's TCP connection abortively (RST) so no answer ever arrives."""
    sock = request.environ.get("werkzeug.socket") or request.environ.get("gunicorn.socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    response = Response(status=500)
    response.sandbox_dropped = True  # type: ignore[attr-defined]
    return response
