"""What the harness does to the systems during a chaos run: orders, refunds, shipments,
faults."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from bench.engine import Driver
from bench.sandbox import ENDPOINT, Acumatica, XCart, shopper
from chaos.invariants import MadeCustomer

#: Bad orders and the field the engine must name in the dead-letter entry.
BAD_KINDS = (
    ("state", {"state_code": "NJ", "city": "Newark", "zipcode": "07102", "street": "3 Broad St"},
     "shipping_address.state"),
    ("sku", {"sku": "WEB-GIFT-25"}, "items[0]"),
)  # fmt: skip

API = "^/(api|entity/Default)/"
HARNESS_PATHS = "(?!.*(Shipment|InventoryAdjustment))"


def fault_config(seed: int, timeout_seconds: float) -> dict[str, Any]:
    """5 % 5xx, 2 % 429, 1 % timeouts on every emulated-API call of the engine.

    Writes lose their answer after committing (the hard case). Sign-in and the harness's own
    writes (shipments, stock adjustments) are left alone; see docs/proof.md.
    """
    odds = {"p500": 0.03, "p503": 0.02, "p429": 0.02, "ptimeout": 0.01}
    return {
        "rules": [
            {"path": API + HARNESS_PATHS, "method": "PUT", **odds, "after_commit": True},
            {"path": API + HARNESS_PATHS, "method": "POST", **odds, "after_commit": True},
            {"path": API, "method": "GET", **odds},
        ],
        "timeout_seconds": timeout_seconds,
        "seed": seed,
    }


def bad_body(rng: random.Random, n: int, skus: list[str]) -> tuple[dict[str, Any], str]:
    kind, change, reason = BAD_KINDS[n % len(BAD_KINDS)]
    body = shopper(rng, n, emails=7, skus=skus)
    body["email"] = f"bad{n:05d}@example.net"
    if kind == "state":
        body["billing_address"].update(change)
    else:
        body["items"] = [{"sku": change["sku"], "amount": 1}]
    return body, reason


@dataclass(eq=False)
class Shopper(threading.Thread):
    """Places ``valid`` good and ``bad`` bad orders at ``rate`` per second, mixed at random."""

    driver: Driver
    valid: int
    bad: int
    rate: float
    buyers: int
    placed_valid: dict[str, str] = field(default_factory=dict)
    placed_bad: dict[str, tuple[str, str]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        rng = random.Random(31)
        plan = ["valid"] * self.valid + ["bad"] * self.bad
        rng.shuffle(plan)
        started = time.monotonic()
        try:
            for n, kind in enumerate(plan):
                if self.stop.is_set():
                    return
                wait = started + n / self.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if kind == "valid":
                    body, reason = shopper(rng, n, emails=self.buyers, skus=self.driver.skus), ""
                else:
                    body, reason = bad_body(rng, n, self.driver.skus)
                try:
                    order = self.driver.xcart.post("checkout", body)
                except RuntimeError as exc:
                    self.refused.append(f"{kind} #{n}: {exc}")
                    continue
                if kind == "valid":
                    self.placed_valid[str(order["order_number"])] = str(order["id"])
                else:
                    self.placed_bad[str(order["order_number"])] = (str(order["id"]), reason)
        finally:
            self.done.set()


class Warehouse:
    """Ships a share of the synced orders in Acumatica: one confirmed shipment each, tracked."""

    def __init__(self, driver: Driver, erp: Acumatica, share: float) -> None:
        self.driver = driver
        self.erp = erp
        self.share = share
        self.rng = random.Random(13)
        self.seen: set[str] = set()
        self.shipped: dict[str, str] = {}  # X-Cart order id -> ShipmentNbr
        self.errors: list[str] = []

    def tick(self, limit: int = 20) -> int:
        made = 0
        for source, key, _status, _at in self.driver.ledger.rows("orders"):
            if not key or source in self.seen:
                continue
            self.seen.add(source)
            if self.rng.random() >= self.share or made >= limit:
                continue
            try:
                self.shipped[source] = self.ship(key, f"TRK{int(source):08d}")
                made += 1
            except Exception as exc:
                self.errors.append(f"{source}: {exc}")
        return made

    def ship(self, key: str, tracking: str) -> str:
        order_type, order_nbr = key.split("/", 1)
        base = f"{self.erp.base_url}{ENDPOINT}"
        so = self.erp.http.get(
            f"{base}/SalesOrder/{order_type}/{order_nbr}", params={"$select": "CustomerID"},
            timeout=60,
        )  # fmt: skip
        so.raise_for_status()
        customer = so.json()["CustomerID"]["value"]
        answer = self.erp.http.put(
            f"{base}/Shipment",
            json={
                "Type": {"value": "Shipment"},
                "CustomerID": {"value": customer},
                "WarehouseID": {"value": "RETAIL"},  # the orders template's warehouse
                "Details": [{"OrderType": {"value": order_type}, "OrderNbr": {"value": order_nbr}}],
                "Packages": [{"TrackingNbr": {"value": tracking}}],
            },
            timeout=60,
        )
        if answer.status_code >= 300:
            raise RuntimeError(f"PUT Shipment: {answer.status_code} {answer.text[:200]}")
        number = answer.json()["ShipmentNbr"]["value"]
        confirm = self.erp.http.post(
            f"{base}/Shipment/ConfirmShipment",
            json={"entity": {"ShipmentNbr": {"value": number}}},
            timeout=60,
        )
        if confirm.status_code >= 300:
            raise RuntimeError(f"ConfirmShipment: {confirm.status_code} {confirm.text[:200]}")
        return str(number)


class Refunder:
    """Refunds a share of the synced orders the warehouse did not ship, as the store admin does
    (``/_sandbox/orders/{id}/refund``: X-Cart has no API for it): in full, in part, or in two
    parts (the second one often while the engine is still recording the first)."""

    def __init__(self, driver: Driver, warehouse: Warehouse, share: float) -> None:
        self.driver = driver
        self.store = XCart(driver.stack.env["XCART_BASE_URL"])
        self.warehouse = warehouse
        self.share = share
        self.rng = random.Random(17)
        self.seen: set[str] = set()
        #: X-Cart order id -> amounts refunded (as the store accepted them).
        self.refunded: dict[str, list[float]] = {}
        self.errors: list[str] = []

    def tick(self, limit: int = 10) -> int:
        made = 0
        for source in sorted(self.warehouse.seen - set(self.warehouse.shipped) - self.seen):
            self.seen.add(source)
            if self.rng.random() >= self.share or made >= limit:
                continue
            kind = self.rng.choice(("full", "part", "two_parts"))
            try:
                total = self._total(source)
                if kind == "full":
                    self._refund(source, total)
                else:
                    first = round(total * self.rng.choice((0.25, 0.4, 0.5)), 2)
                    self._refund(source, first)
                    if kind == "two_parts":
                        self._refund(source, round(total - first, 2))
                made += 1
            except (RuntimeError, requests.RequestException) as exc:
                self.errors.append(f"{source}: {exc}")
        return made

    def _total(self, source: str) -> float:
        answer = self.store.http.get(f"{self.store.base_url}/api/orders/{source}", timeout=60)
        answer.raise_for_status()
        return float(answer.json()["total"])

    def _refund(self, source: str, amount: float) -> None:
        self.driver.xcart.post(f"orders/{source}/refund", {"amount": amount})
        self.refunded.setdefault(source, []).append(amount)


class Registrar:
    """Creates customers in Acumatica as a person would (``PUT Customer`` with a main contact
    e-mail and address), ``count`` in all: every third with the e-mail of a store profile that
    already exists, made before the engine starts (:meth:`create_existing`), the others with a
    new one, one per tick under the faults. Each other customer is renamed (an Acumatica-owned
    field group) once the engine has linked it to a profile."""

    PREFIX = "CHX"

    def __init__(self, driver: Driver, erp: Acumatica, count: int, logins: dict[str, str]) -> None:
        self.driver = driver
        self.erp = erp
        self.rng = random.Random(19)
        existing = sorted(logins.items())
        self.logins = existing
        #: CustomerID -> (e-mail, id of the profile that already had it, or None).
        self.plan: list[tuple[str, str, str | None]] = []
        for n in range(count):
            customer_id = f"{self.PREFIX}{n:03d}"
            if n % 3 == 0 and existing:
                login, profile_id = existing[(7 * n) % len(existing)]
                self.plan.append((customer_id, login, profile_id))
            else:
                self.plan.append((customer_id, f"erp{n:03d}@example.org", None))
        self.made: dict[str, MadeCustomer] = {}
        self.to_edit = {customer_id for n, (customer_id, _e, _p) in enumerate(self.plan) if n % 2}
        self.errors: list[str] = []

    def create_existing(self) -> None:
        """Make the customers planned with a store profile's e-mail now, before the engine runs.

        A person adding one while the engine first meets that profile races it: the engine,
        finding no customer with the e-mail, makes its own, and the person's then stays out of
        the store with the reason (two customers for one e-mail, for a person to merge), an
        outcome no invariant could tell from a lost link."""
        for customer_id, email, existing in self.plan:
            if existing is not None:
                self._make(customer_id, email, existing)

    def tick(self) -> None:
        todo = [planned for planned in self.plan if planned[0] not in self.made]
        if todo:
            self._make(*todo[0])
        linked = self.linked()
        for customer_id in sorted(self.to_edit & set(self.made) & linked):
            self.to_edit.discard(customer_id)
            self._rename(customer_id)

    @property
    def pending(self) -> int:
        """Creates and edits still to make."""
        return len(self.plan) - len(self.made) + len(self.to_edit)

    def _unlinked_login(
        self, customer_id: str, email: str, profile_id: str
    ) -> tuple[str, str | None]:
        """The planned existing profile, or the next one no customer is linked to yet (a
        profile links to one customer: the engine leaves a second one with its e-mail
        unbrought); a new e-mail when every profile is linked."""
        taken = set()
        for source, key, _status, _at in self.driver.ledger.rows("customers"):
            for value in (source, key):
                if str(value or "").startswith("profile:"):
                    taken.add(str(value).removeprefix("profile:"))
        taken |= {c.existing_profile for c in self.made.values() if c.existing_profile}
        start = next(i for i, (_l, p) in enumerate(self.logins) if p == profile_id)
        for login, candidate in self.logins[start:] + self.logins[:start]:
            if candidate not in taken:
                return login, candidate
        return f"erp{customer_id[-3:]}@example.org", None

    def links(self) -> dict[str, str]:
        """The made customers the ledger links to a profile: CustomerID -> profile id."""
        found = {}
        for source, key, _status, _at in self.driver.ledger.rows("customers"):
            if not key:
                continue
            if str(source) in self.made:
                found[str(source)] = str(key).removeprefix("profile:")
            elif str(key) in self.made:
                found[str(key)] = str(source).removeprefix("profile:")
        return found

    def linked(self) -> set[str]:
        return set(self.links())

    def settled(self) -> bool:
        """Every customer made and linked, and every edit on its profile's billing address."""
        if self.pending:
            return False
        links = self.links()
        if set(self.made) - set(links):
            return False
        store = XCart(self.driver.stack.env["XCART_BASE_URL"])
        for customer_id, made in self.made.items():
            if not made.edits:
                continue
            answer = store.http.get(
                f"{store.base_url}/api/profiles/{links[customer_id]}/addresses", timeout=60
            )
            if answer.status_code >= 300:
                return False
            rows = answer.json()
            billing = next((a for a in rows if a.get("is_billing")), rows[0] if rows else {})
            if (billing.get("firstname"), billing.get("lastname")) != (made.first, made.last):
                return False
        return True

    def _make(self, customer_id: str, email: str, existing: str | None) -> None:
        if existing is not None:
            email, existing = self._unlinked_login(customer_id, email, existing)
        self._create(customer_id, email, existing)

    def _create(self, customer_id: str, email: str, existing: str | None) -> None:
        first, last = "Erin", f"Made{customer_id[-3:]}"
        body = {
            "CustomerID": {"value": customer_id},
            "CustomerName": {"value": f"{first} {last}"},
            "CustomerClass": {"value": "RETAIL"},
            "MainContact": {
                "Email": {"value": email},
                "FirstName": {"value": first},
                "LastName": {"value": last},
                "Phone1": {"value": f"+1503555{self.rng.randint(0, 9999):04d}"},
                "Address": {
                    "AddressLine1": {"value": f"{self.rng.randint(1, 99)} Alder St"},
                    "City": {"value": "Portland"},
                    "State": {"value": "OR"},
                    "PostalCode": {"value": "97205"},
                    "Country": {"value": "US"},
                },
            },
        }
        written_at = self._put(customer_id, body)
        if written_at is not None:
            self.made[customer_id] = MadeCustomer(email, first, last, existing, 0, written_at)

    def _rename(self, customer_id: str) -> None:
        made = self.made[customer_id]
        first, last = "Rena", f"Edited{customer_id[-3:]}"
        body = {
            "CustomerID": {"value": customer_id},
            "CustomerName": {"value": f"{first} {last}"},
            "MainContact": {"FirstName": {"value": first}, "LastName": {"value": last}},
        }
        written_at = self._put(customer_id, body)
        if written_at is not None:
            made.first, made.last, made.written_at = first, last, written_at
            made.edits += 1

    def _put(self, customer_id: str, body: dict[str, Any], tries: int = 8) -> str | None:
        """The write, repeated while faults answer it (a PUT by key is an upsert); the
        ``LastModifiedDateTime`` it left, or ``None`` after ``tries``."""
        url = f"{self.erp.base_url}{ENDPOINT}/Customer"
        params = {"$select": "CustomerID,LastModifiedDateTime"}
        problem = ""
        for _ in range(tries):
            try:
                answer = self.erp.http.put(url, json=body, params=params, timeout=30)
            except requests.RequestException as exc:
                problem = type(exc).__name__
                continue
            if answer.status_code < 300:
                return str(answer.json()["LastModifiedDateTime"]["value"])
            problem = f"{answer.status_code}"
            if answer.status_code not in (429, 500, 502, 503, 504):
                break
            time.sleep(0.5)
        self.errors.append(f"{customer_id}: {problem}")
        return None
