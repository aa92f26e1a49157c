"""``BROKER_URL``: Redis by default, RabbitMQ's configuration when it names one, a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_workers.celery import QUEUES, celery_config
from sync_workers.settings import SettingsError, load_settings

RABBIT = "amqp://sync:rabbit-secret-pw@rabbit.internal:5672/sync"


def test_without_broker_url_the_broker_is_redis_under_the_key_prefix() -> None:
    settings = load_settings({"REDIS_URL": "redis://cache:6379/2", "REDIS_KEY_PREFIX": "x:"})
    config = celery_config(settings)

    assert settings.broker_url.reveal() == "redis://cache:6379/2"
    assert config["broker_url"] == "redis://cache:6379/2"
    options = config["broker_transport_options"]
    assert options["global_keyprefix"] == "x:"
    assert options["visibility_timeout"] == settings.broker_visibility_timeout
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] == 10
    assert [q.name for q in config["task_queues"]] == list(QUEUES)
    assert all(not q.queue_arguments for q in config["task_queues"])


def test_an_amqp_broker_url_gives_quorum_queues_confirms_and_delayed_delivery() -> None:
    settings = load_settings({"BROKER_URL": RABBIT, "REDIS_URL": "redis://cache:6379/2"})
    config = celery_config(settings)

    assert config["broker_url"] == RABBIT
    assert config["broker_transport_options"] == {"confirm_publish": True}
    queues = config["task_queues"]
    assert [q.name for q in queues] == list(QUEUES)
    for queue in queues:
        assert queue.queue_arguments == {"x-queue-type": "quorum"}
        assert (queue.exchange.name, queue.exchange.type) == (queue.name, "topic")
        assert queue.durable and not queue.auto_delete
    assert config["worker_detect_quorum_queues"] is True
    assert config["broker_native_delayed_delivery_queue_type"] == "quorum"
    assert config["task_acks_late"] is True and config["worker_prefetch_multiplier"] == 1
    # Beat's schedule and lock stay in Redis.
    assert config["redbeat_redis_url"] == "redis://cache:6379/2"
    assert "rabbit-secret-pw" not in repr(settings)


def test_broker_url_is_a_secret_read_from_a_file_too(tmp_path: Path) -> None:
    path = tmp_path / "broker_url"
    path.write_text(RABBIT + "\n")

    assert load_settings({"BROKER_URL_FILE": str(path)}).broker_url.reveal() == RABBIT
    with pytest.raises(SettingsError) as both:
        load_settings({"BROKER_URL_FILE": str(path), "BROKER_URL": RABBIT})
    assert both.value.problems == ["BROKER_URL: set either BROKER_URL or BROKER_URL_FILE, not both"]


@pytest.mark.parametrize(
    "url",
    ["amqp://sync:rabbit-secret-pw@/sync", "sqs://sync:rabbit-secret-pw@queue", "amqp://"],
)
def test_a_bad_broker_url_is_named_without_its_password(url: str) -> None:
    with pytest.raises(SettingsError) as bad:
        load_settings({"BROKER_URL": url})
    [line] = bad.value.problems
    assert line.startswith("BROKER_URL: ")
    assert "rabbit-secret-pw" not in line
