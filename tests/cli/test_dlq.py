"""``dlq list|show|replay|resolve|purge|audit`` on a real dead-letter queue and worker."""

from __future__ import annotations

import json
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from sync_workers.dlq import DeadLetter
from sync_workers.task import get_dlq
from tests.cli.conftest import queued
from tests.foundation import sample_tasks as t


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")


def add_entry(flow="orders", record_id="1001", error="PermanentError", message="bad SKU", **kw):
    entry = DeadLetter(
        flow=flow,
        record_id=record_id,
        task=f"tasks.{flow}.push",
        step="push",
        task_id=f"task-{flow}-{record_id}-{message}",
        args=[],
        kwargs={"record_id": record_id, "sku": "NOPE"},
        error_class=error,
        error_message=message,
        **kw,
    )
    assert get_dlq().add(entry)
    return entry


def editor_script(tmp_path: Path, body: str) -> str:
    """An $EDITOR that rewrites the file it is given with ``body(original_text)``."""
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys\n"
        "path = sys.argv[1]\n"
        "text = open(path, encoding='utf-8').read()\n"
        f"{body}\n"
        "open(path, 'w', encoding='utf-8').write(text)\n"
    )
    return f"{sys.executable} {script}"


def test_list_filters_by_flow_and_error_and_prints_json(cli) -> None:
    add_entry("orders", "1", message="SKU 'X' cannot be found")
    add_entry("orders", "2", error="TransientError", message="timed out")
    add_entry("payments", "3", message="SKU 'Y' cannot be found")

    by_flow = cli("dlq", "list", "--flow", "orders", "--json")
    by_error = cli("dlq", "list", "--error", "cannot be found", "--json")
    by_class = cli("dlq", "list", "--error", "transienterror", "--json")
    human = cli("dlq", "list")

    assert by_flow.exit_code == 0
    assert sorted(e["record_id"] for e in by_flow.json) == ["1", "2"]
    assert sorted(e["record_id"] for e in by_error.json) == ["1", "3"]
    assert [e["record_id"] for e in by_class.json] == ["2"]
    assert "FLOW" in human.output and "payments" in human.output and "3 shown" in human.output


def test_show_accepts_an_id_prefix_and_unknown_ids_exit_1(cli) -> None:
    entry = add_entry(field_errors={"Details[0].InventoryID": "'NOPE' cannot be found"})

    shown = cli("dlq", "show", entry.id[:8], "--json")
    human = cli("dlq", "show", entry.id[:8])
    missing = cli("dlq", "show", "ffffffffffff")

    assert shown.exit_code == 0
    assert shown.json["kwargs"] == {"record_id": "1001", "sku": "NOPE"}
    assert "Details[0].InventoryID: 'NOPE' cannot be found" in human.output
    assert missing.exit_code == 1
    assert "no dead letter" in missing.stderr


def test_edited_replay_succeeds_and_is_audited(cli, celery_worker, task_runs, tmp_path) -> None:
    t.permanent_until_fixed.apply_async(kwargs={"record_id": "cli-edit-1"})
    entry = wait_for(lambda: list(get_dlq().iter_entries(record_id="cli-edit-1")))[0]
    editor = editor_script(
        tmp_path,
        'text = text.replace(\'"cli-edit-1"\', \'"cli-edit-1", "sku": "AA-0001"\')',
    )

    result = cli("dlq", "replay", entry.id, "--edit", "--by", "ops-oncall", env={"EDITOR": editor})

    assert result.exit_code == 0, result.output + result.stderr
    assert "replayed (edited" in result.output
    calls = wait_for(lambda: [c for c in t.notes("calls", "cli-edit-1") if c["sku"] == "AA-0001"])
    assert len(calls) == 1
    replayed = get_dlq().get(entry.id)
    assert replayed.status == "replayed"
    assert replayed.replays[0]["by"] == "ops-oncall" and replayed.replays[0]["edited"] is True
    assert [run.state for run in task_runs.wait("cli-edit-1", 2)] == ["FAILURE", "SUCCESS"]
    assert list(get_dlq().iter_entries(record_id="cli-edit-1")) == []  # nothing failed again
    audit = cli("dlq", "audit", "--json").json
    assert {
        "action": "replayed",
        "by": "ops-oncall",
        "entry": entry.id,
        "edited": True,
    }.items() <= (audit[0].items())


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ("text = text.replace('\"sku\"', 'sku')", "not valid JSON"),
        ("text = '[1, 2]'", "must be a JSON object"),
        ("text = text.replace('\"1001\"', '\"2002\"')", "identifies the record"),
        ("pass", "left unchanged"),
    ],
)
def test_invalid_edits_publish_nothing(cli, redis_client, tmp_path, edit, reason) -> None:
    entry = add_entry()

    result = cli("dlq", "replay", entry.id, "--edit", env={"EDITOR": editor_script(tmp_path, edit)})

    assert result.exit_code == 1
    assert reason in result.stderr
    assert get_dlq().get(entry.id).status == "open"
    assert queued(redis_client, "orders") == []


def test_replay_from_start_publishes_the_flow_poll_for_the_record(cli, redis_client) -> None:
    entry = add_entry("orders", "1001")

    result = cli("dlq", "replay", entry.id, "--from-start", "--json")

    assert result.exit_code == 0
    assert result.json["replayed"][0]["task"] == "tasks.orders.poll"
    messages = queued(redis_client, "orders")
    assert [(m["task"], m["kwargs"]) for m in messages] == [
        ("tasks.orders.poll", {"ids": ["1001"]})
    ]
    assert messages[0]["headers"]["dlq_replay_of"] == entry.id
    assert get_dlq().get(entry.id).status == "replayed"


def test_replay_all_with_filters_and_a_second_replay_is_refused(cli, redis_client) -> None:
    add_entry("orders", "1", message="SKU missing")
    add_entry("orders", "2", message="timeout")
    add_entry("payments", "3", message="SKU missing")

    first = cli("dlq", "replay", "--all", "--flow", "orders", "--error", "SKU", "--json")
    entry_id = first.json["replayed"][0]["id"]
    again = cli("dlq", "replay", entry_id)

    assert [r["record_id"] for r in first.json["replayed"]] == ["1"]
    assert len(queued(redis_client, "orders")) == 1
    assert again.exit_code == 1
    assert "replayed; use force" in again.stderr


def test_replay_usage_errors_exit_2(cli) -> None:
    entry = add_entry()

    assert cli("dlq", "replay").exit_code == 2
    assert cli("dlq", "replay", entry.id, "--all").exit_code == 2
    assert cli("dlq", "replay", entry.id, "--edit", "--from-start").exit_code == 2


def test_resolve_marks_the_entry_and_audits_the_note(cli) -> None:
    entry = add_entry()

    result = cli("dlq", "resolve", entry.id, "--note", "fixed by hand in Acumatica", "--by", "kim")
    twice = cli("dlq", "resolve", entry.id)

    assert result.exit_code == 0
    resolved = get_dlq().get(entry.id)
    assert resolved.status == "resolved"
    [resolving, dropping] = resolved.audit[-2:]
    assert resolving["note"] == "fixed by hand in Acumatica" and resolving["by"] == "kim"
    assert (dropping["action"], dropping["why"]) == ("data dropped", "resolved")
    assert twice.exit_code == 1
    assert cli("dlq", "list", "--json").json == []


def test_purge_needs_confirm_and_is_audited(cli) -> None:
    keep = add_entry("orders", "1")
    gone = add_entry("orders", "2")
    cli("dlq", "resolve", gone.id)

    dry = cli("dlq", "purge", "--json")
    assert dry.exit_code == 2
    assert dry.json["would_delete"] == 1
    assert get_dlq().count(status="all") == 2

    done = cli("dlq", "purge", "--confirm", "--by", "kim", "--json")

    assert done.exit_code == 0 and done.json["deleted"] == 1
    assert [e.id for e in get_dlq().iter_entries(status="all")] == [keep.id]
    assert {"action": "purged", "by": "kim", "entry": gone.id}.items() <= get_dlq().audit_log(1)[
        0
    ].items()


def test_purge_older_than_keeps_recent_entries(cli) -> None:
    entry = add_entry()
    cli("dlq", "resolve", entry.id)

    result = cli("dlq", "purge", "--older-than", "1d", "--confirm", "--json")

    assert result.json["deleted"] == 0
    assert get_dlq().count(status="all") == 1


def test_list_without_redis_is_one_line_and_exit_1(cli, monkeypatch) -> None:
    import redis

    from sync_workers.cli import dlq as dlq_cli

    class Down:
        def iter_entries(self, **_):
            raise redis.ConnectionError("refused")

    monkeypatch.setattr(dlq_cli, "_queue", lambda: Down())

    result = cli("dlq", "list")

    assert result.exit_code == 1
    assert "Redis is unavailable" in result.stderr
    assert json.dumps(result.stderr).count("Traceback") == 0


def failure(record_id: str, task_id: str, message: str) -> DeadLetter:
    return DeadLetter(
        flow="orders",
        record_id=record_id,
        task="tasks.orders.sync",
        step="validate",
        task_id=task_id,
        args=[],
        kwargs={"record_id": record_id},
        error_class="PermanentError",
        error_message=message,
    )


def test_a_record_failing_again_updates_its_open_entry_until_it_is_handled(cli) -> None:
    """Two deliveries of one bad order (a webhook and a poll) are one entry to handle."""
    dlq = get_dlq()
    first = failure("77", "first-task", "unmapped tax region 'US-NJ'")
    assert dlq.add(first)

    assert dlq.add(failure("77", "second-task", "unmapped tax region 'US-NY'")) is False
    assert dlq.add(failure("77", "second-task", "same task, second failure path")) is False

    [entry] = list(dlq.iter_entries(record_id="77"))
    assert entry.id == first.id and entry.repeats == 1
    assert (entry.task_id, entry.error_message) == ("second-task", "unmapped tax region 'US-NY'")
    assert [a["action"] for a in entry.audit] == ["dead-lettered", "failed again"]
    assert cli("dlq", "show", first.id, "--json").json["repeats"] == 1

    dlq.resolve(first.id, by="ops@example")  # handled: the next failure is news again
    third = failure("77", "third-task", "unmapped tax region 'US-NJ'")
    assert dlq.add(third)
    assert [e.id for e in dlq.iter_entries(record_id="77")] == [third.id]
    assert dlq.get(first.id).status == "resolved" and dlq.get(first.id).repeats == 1


# -- what reaches the terminal ------------------------------------------------------------------

HOSTILE = (
    "\x1b[2J\x1b[H"  # clear the screen, cursor home
    "\x1b]0;pwned-title\x07"  # window title
    "\x1b]52;c;cm0gLXJmIH4=\x07"  # clipboard write
    "\x9b31m"  # C1 CSI: red
    "\r\x08\x00\x7f"  # carriage return, backspace, NUL, DEL
    "\u202e"  # right-to-left override
    "\x1bc"  # full reset
)
BIDI_CONTROLS = {"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}


def terminal_controls(text: str) -> list[str]:
    """Characters a terminal acts on rather than shows (newline and tab aside)."""
    return [
        repr(ch)
        for ch in text
        if (unicodedata.category(ch) == "Cc" and ch not in "\n\t")
        or unicodedata.bidirectional(ch) in BIDI_CONTROLS
    ]


def test_dlq_text_output_carries_no_terminal_control_characters(cli) -> None:
    message = f"Acumatica said: {HOSTILE}SKU missing\nsecond line"
    entry = add_entry(
        "orders",
        f"1001{HOSTILE}",
        message=message,
        field_errors={f"Details[0].{HOSTILE}InventoryID": f"'{HOSTILE}NOPE' cannot be found"},
        traceback=f"Traceback (most recent call last):\n  boom\nPermanentError: {HOSTILE}\n",
        payload={"note": f"gift{HOSTILE}wrap"},
    )
    get_dlq().resolve(entry.id, by=f"kim{HOSTILE}", note=f"note{HOSTILE}")
    get_dlq().add(
        DeadLetter(
            flow="orders",
            record_id="1002",
            task="tasks.orders.sync",
            step="push",
            task_id="hostile-open",
            args=[f"a{HOSTILE}"],
            kwargs={"record_id": "1002", "note": f"k{HOSTILE}"},
            error_class="PermanentError",
            error_message=message,
            payload={"note": f"p{HOSTILE}"},
        )
    )
    [open_entry] = list(get_dlq().iter_entries(record_id="1002"))

    outputs = {
        "list": cli("dlq", "list", "--status", "all"),
        "show resolved": cli("dlq", "show", entry.id),
        "show open": cli("dlq", "show", open_entry.id),
        "audit": cli("dlq", "audit"),
        "replay": cli("dlq", "replay", open_entry.id),
    }

    for name, result in outputs.items():
        text = result.output + result.stderr
        assert terminal_controls(text) == [], name
        if name != "show open":  # its arguments are JSON, where escapes are inert text
            assert "pwned-title" not in text and "cm0gLXJmIH4=" not in text, name
    assert "Acumatica said: SKU missing" in outputs["list"].output
    assert "Acumatica said: SKU missing second line" in outputs["show resolved"].output
    assert "record_id:       1001\n" in outputs["show resolved"].output
    assert '"note": "k\\u001b[2J' in outputs["show open"].output


def test_dlq_json_output_keeps_the_text_and_escapes_the_control_characters(cli) -> None:
    entry = add_entry("orders", "1003", message=f"said: {HOSTILE}!")

    result = cli("dlq", "show", entry.id, "--json")

    assert terminal_controls(result.output) == []
    assert result.json["error_message"] == f"said: {HOSTILE}!"
