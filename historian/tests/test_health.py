"""The buffer's durability (check --deploy, status flag) and the writer's health (manage.py health historian)."""

import time

import pytest
from django.core.management import call_command

from historian.buffer import buffer_append_rows, historian_status_provider
from historian.constants import BUFFER_STREAM
from historian.health import buffer_durability_check, historian_health
from scada.redis import get_redis, reset_redis_client
from tests.servers import OwnRedis


@pytest.fixture
def buffer_redis(tmp_path, settings):
    """Point Kiln at a redis-server of the test's own, with or without an append-only file."""
    servers = []

    def start(*, appendonly):
        server = OwnRedis(tmp_path / str(len(servers)), appendonly=appendonly)
        server.directory.mkdir()
        server.start()
        servers.append(server)
        settings.REDIS_URL = server.url
        reset_redis_client()
        return server

    yield start
    for server in servers:
        server.stop()
    reset_redis_client()


def test_it_refuses_to_call_a_redis_without_an_append_only_file_durable(buffer_redis):
    buffer_redis(appendonly=False)
    errors = buffer_durability_check()
    assert [e.id for e in errors] == ["historian.E001"]
    assert "restart loses every sample still waiting" in errors[0].msg and "appendonly yes" in errors[0].hint
    info = historian_status_provider()[1]
    assert info["buffer_durable"] is False and "no append-only file" in info["buffer_durability"]


def test_it_calls_a_redis_with_its_append_only_file_on_durable(buffer_redis):
    buffer_redis(appendonly=True)
    assert buffer_durability_check() == []
    info = historian_status_provider()[1]
    assert info["buffer_durable"] is True and info["buffer_persistent"] is True


def test_it_warns_when_it_cannot_ask_redis(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert [e.id for e in buffer_durability_check()] == ["historian.W001"]


def test_the_historian_is_healthy_while_the_writer_keeps_the_buffer_young(real_tag):
    assert historian_health().ok  # an idle plant (nothing buffered) is healthy
    buffer_append_rows([time.time()], [real_tag.pk], [1.0], [0])
    health = historian_health()
    assert health.ok and health.facts["buffered_samples"] == 1


def test_the_historian_is_unhealthy_when_the_oldest_buffered_sample_outlives_the_limit(real_tag, settings):
    settings.KILN_HISTORIAN_HEALTH_MAX_LAG_SECONDS = 30
    # An entry the writer never took, buffered 45 s ago (stream ids are the append time in ms).
    get_redis().xadd(BUFFER_STREAM, {"n": 1, "d": b"[]"}, id=f"{int((time.time() - 45) * 1000)}-0")
    health = historian_health()
    assert not health.ok
    assert "the writer is stopped, stuck or behind" in health.detail
    with pytest.raises(SystemExit) as exit_:
        call_command("health", "historian")
    assert exit_.value.code == 1
