"""A writer process for the outage tests: `python -m historian.tests.writer_process STOPFILE`.

Runs the real writer the way beat does (a run, a short pause, the next run) until STOPFILE exists and the
buffer is empty. Database and Redis come from DATABASE_URL / REDIS_URL, so a test can route PostgreSQL
through a proxy it cuts at will.
"""

import os
import sys
import time

import django


def main(stop_file: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scada.settings")
    django.setup()
    from historian.constants import BUFFER_COUNT
    from historian.writer import historian_writer_run
    from scada.redis import get_redis

    r = get_redis()
    while True:
        run = historian_writer_run(budget_seconds=2)
        if run.error:
            print(f"writer error: {run.error}", flush=True)
        if os.path.exists(stop_file) and int(r.get(BUFFER_COUNT) or 0) == 0:
            return
        time.sleep(0.1 if run.error or not run.flushes else 0)


if __name__ == "__main__":
    main(sys.argv[1])
