"""One beat schedule, in settings: every entry names a task some app registers."""

from django.conf import settings

from scada.celery import app


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    missing = [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] not in app.tasks]
    assert missing == []


def test_the_historian_writer_runs_every_second():
    assert settings.CELERY_BEAT_SCHEDULE["historian-writer"]["schedule"] == 1.0
    assert app.conf.beat_schedule["historian-writer"]["task"] == "historian.tasks.historian_writer_task"
