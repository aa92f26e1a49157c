"""``celery -A sync_workers mapping profile|suggest|accept``: the mapping assistant.

``profile`` shows the values the store's recent orders use for each mapped field, with counts
and what each maps to, and Acumatica's lists. ``suggest`` lists every value the open dead letters name as unmapped, with the Acumatica codes
it most likely means, their scores and evidence. ``accept FIELD VALUE TARGET`` writes one to
its template in ``MAPPING_TEMPLATES_DIR`` (validated, the previous file kept, audited) and
replays the dead letters it fixes; ``accept --confident`` does that for every suggestion at or
above the confidence threshold and leaves the rest to a person. A payment method's target may
name its cash account: ``CREDITCARD:10250ST`` (default: the method's default AR account).
"""

from __future__ import annotations

from typing import Any

import click

from sync_workers.cli import EXIT_FOUND
from sync_workers.cli.command import OperatorCommand
from sync_workers.cli.output import (
    actor,
    by_option,
    check_flow,
    emit_json,
    json_option,
    printable,
    run_guarded,
    shorten,
    usage_error,
)
from sync_workers.mapping.assistant.fields import Field


def _queue() -> Any:
    from sync_workers.task import get_dlq

    return get_dlq()


def _acumatica() -> Any:
    from sync_workers import clients

    return clients.acumatica()


def _xcart() -> Any:
    from sync_workers import clients

    return clients.xcart()


@click.group()
def mapping() -> None:
    """Suggestions for values no mapping covers, and accepting them."""


@mapping.command("suggest", cls=OperatorCommand)
@click.option("--flow", help="Only values of this flow's dead letters or template.")
@json_option
def suggest(flow: str | None, as_json: bool) -> None:
    """Every unmapped value of the open dead letters, with ranked Acumatica codes
    (``--flow customers``: also the store's memberships no template maps)."""
    from sync_workers.mapping.assistant.suggest import open_items

    if flow is not None:
        check_flow(flow)
    items = run_guarded(
        lambda: open_items(_queue(), _acumatica(), flow=flow, xcart=_xcart()),
        "mapping suggest",
        as_json=as_json,
    )
    if as_json:
        emit_json([item.as_dict() for item in items])
        return
    if not items:
        click.echo("nothing open: no open dead letter names an unmapped value")
        return
    for item in items:
        click.echo(
            printable(
                f"{item.field.name} {item.value!r}: {item.count} record(s) in "
                f"{', '.join(item.flows)}; {item.field.flow}.yaml {item.field.path}"
            )
        )
        if item.problem:
            click.echo("  " + printable(item.problem))
        if not item.acceptable:
            click.echo("  (no template entry can be written for this value)")
        for n, found in enumerate(item.suggestions, 1):
            mark = " confident" if found.confident else ""
            click.echo(
                printable(f"  {n}. {found.code}  {found.score:.2f}{mark}  {found.description}")
            )
            for line in found.evidence:
                click.echo("       " + printable(shorten(line, 110)))
    best = [i for i in items if i.best and i.best.confident and i.acceptable]
    click.echo(
        f"\n{len(items)} open value(s), {len(best)} with a confident suggestion; "
        "`mapping accept FIELD VALUE TARGET` applies one"
    )


@mapping.command("profile", cls=OperatorCommand)
@click.option(
    "--orders", type=click.IntRange(1, 10_000), default=200, show_default=True,
    help="How many of the store's last orders to read.",
)  # fmt: skip
@json_option
def profile(orders: int, as_json: bool) -> None:
    """The store's values of each mapped field, with counts, and Acumatica's lists."""
    from sync_workers.mapping.assistant.profile import store_values
    from sync_workers.mapping.assistant.reference import READERS

    def read() -> dict[str, Any]:
        acumatica = _acumatica()
        return {
            "store": {
                name: [v.as_dict() for v in values]
                for name, values in store_values(_xcart(), orders).items()
            },
            "acumatica": {
                name: [
                    {"code": c.code, "description": c.description, **dict(c.extra)}
                    for c in reader(acumatica)
                ]
                for name, reader in READERS.items()
            },
        }

    data = run_guarded(read, "mapping profile", as_json=as_json)
    if as_json:
        emit_json(data)
        return
    click.echo(f"In the store's last {orders} orders:")
    for name, values in data["store"].items():
        click.echo(f"  {name}:")
        for value in values or [{"value": "(none)", "count": 0, "mapped_to": "-"}]:
            mapped = value["mapped_to"] or "UNMAPPED"
            click.echo(printable(f"    {value['value']!r}: {value['count']} -> {mapped}"))
    click.echo("In Acumatica:")
    for name, rows in data["acumatica"].items():
        codes = ", ".join(row["code"] for row in rows) or "(none)"
        click.echo(printable(f"  {name}: {codes}"))


@mapping.command("accept", cls=OperatorCommand)
@click.argument("field", required=False)
@click.argument("value", required=False)
@click.argument("target", required=False)
@click.option(
    "--confident", is_flag=True, help="Accept every confident suggestion (nothing below it)."
)
@click.option("--no-replay", is_flag=True, help="Write the mapping; replay nothing.")
@by_option
@json_option
def accept(
    field: str | None,
    value: str | None,
    target: str | None,
    confident: bool,
    no_replay: bool,
    by: str | None,
    as_json: bool,
) -> None:
    """Write FIELD VALUE -> TARGET to its template and replay the dead letters it fixes."""
    from sync_workers.celery import publish
    from sync_workers.mapping.assistant.accept import AcceptError
    from sync_workers.mapping.assistant.accept import accept as apply
    from sync_workers.mapping.assistant.fields import field_named
    from sync_workers.mapping.assistant.suggest import open_items

    if confident == bool(field or value or target):
        usage_error("give FIELD VALUE TARGET, or --confident")
    if not confident and not (field and value and target):
        usage_error("give FIELD VALUE TARGET (e.g. shipping_method 'Fast Freight' UPS)")
    who = actor(by)
    queue, acumatica = _queue(), _acumatica()
    if confident:
        items = run_guarded(
            lambda: open_items(queue, acumatica, xcart=_xcart()), "mapping accept", as_json=as_json
        )
        chosen: list[tuple[Field, str, str, float | None]] = [
            (i.field, i.value, i.best.code, i.best.score)
            for i in items
            if i.best is not None and i.best.confident and i.acceptable
        ]
        left = [i for i in items if (i.field, i.value) not in {(c[0], c[1]) for c in chosen}]
    else:
        try:
            spec = field_named(field or "")
        except KeyError as exc:
            usage_error(str(exc.args[0]))
        chosen = [(spec, value or "", target or "", None)]
        left = []

    def apply_all() -> list[dict[str, Any]]:
        done = []
        for spec, store_value, code, score in chosen:
            try:
                result = apply(
                    spec,
                    store_value,
                    code,
                    by=who,
                    queue=queue,
                    acumatica=acumatica,
                    publish=None if no_replay else publish,
                    score=score,
                )
            except AcceptError as exc:
                done.append({"field": spec.name, "value": store_value, "error": str(exc)})
            else:
                done.append(result.as_dict())
        return done

    done = run_guarded(apply_all, "mapping accept", as_json=as_json)
    failures = sum(1 for item in done if "error" in item)
    if as_json:
        emit_json({"accepted": done, "left_for_a_person": [i.as_dict() for i in left]})
    else:
        for item in done:
            if "error" in item:
                click.secho(
                    printable(f"not applied: {item['field']} {item['value']!r}: {item['error']}"),
                    err=True,
                    fg="red",
                )
                continue
            click.echo(
                printable(
                    f"{item['field']} {item['value']!r} -> {item['target']}: written to "
                    f"{item['template']} (previous kept as {item['previous']}); "
                    f"{len(item['replayed'])} dead letter(s) replayed"
                    + (f", {len(item['refused'])} refused" if item["refused"] else "")
                )
            )
        if confident:
            click.echo(f"{len(left)} value(s) below the confidence threshold left for a person")
        if not done and confident:
            click.echo("no confident suggestion to accept")
    if failures:
        raise SystemExit(EXIT_FOUND)
