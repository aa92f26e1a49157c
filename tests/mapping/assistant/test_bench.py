"""The known-answer data set against the sandboxes over HTTP and the test Redis: the first
suggestion is the right code for at least 90 % of the values."""

from __future__ import annotations

from bench import mapping_assistant


def test_first_suggestion_is_right_for_nine_values_in_ten(sandboxes, redis_client):
    from sync_workers import clients
    from sync_workers.task import get_dlq

    result = mapping_assistant.run(get_dlq(), clients.acumatica(), clients.xcart())

    assert result["cases"] == len(mapping_assistant.CASES)
    assert result["top1_accuracy"] >= 0.9, result["misses"]
    assert set(result["by_field"]) == {field for field, _, _ in mapping_assistant.CASES}
    assert sum(f["cases"] for f in result["by_field"].values()) == result["cases"]
    # a confident suggestion is a right one on this data set
    assert result["confident_right"] == result["confident"], result
