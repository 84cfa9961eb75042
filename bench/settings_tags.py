"""Settings for bench/bench_tags_api.py: Kiln's own settings plus a bench-only URL conf (the baseline view)."""

from scada.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_tags"
