"""scripts/backup.sh and scripts/restore.sh: a plant's configuration, audit trail and history survive a dump and
a restore into an empty database, with the audit chain still verifying there (docs/deployment.md)."""

import os
import subprocess
import time
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection

from accounts.audit import audit_record
from accounts.models import AuditRecord
from historian.buffer import buffer_append_rows
from historian.services import history_delete_for_tag
from historian.writer import historian_writer_flush
from tags.models import Machine, Tag

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.postgresql, pytest.mark.timeout(300)]


def _url(name: str) -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _psql(url: str, sql: str) -> str:
    return subprocess.run(["psql", url, "-XAtc", sql], capture_output=True, text=True, check=True).stdout.strip()


def _row_counts(url: str) -> dict[str, int]:
    """Every table's row count, found from the catalogue (partitioned tables and each partition), so nothing is
    left unchecked."""
    tables = _psql(url, "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1").split()
    return {t: int(_psql(url, f'SELECT count(*) FROM "{t}"')) for t in tables}


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    # The suite's own keys: the subprocess must sign and verify with the key the records were hashed with.
    env.update(DEBUG="1", DATABASE_URL=url, SECRET_KEY=settings.SECRET_KEY, KILN_AUDIT_KEY=settings.KILN_AUDIT_KEY,
               REDIS_URL=settings.REDIS_URL)
    return env


@pytest.fixture
def empty_database():
    name = f"{connection.settings_dict['NAME']}_restored"
    admin = _url("postgres")
    _psql(admin, f'DROP DATABASE IF EXISTS "{name}"')
    _psql(admin, f'CREATE DATABASE "{name}"')
    yield _url(name)
    _psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def plant(transactional_db):
    """Committed configuration, audit records and history, as a running plant has them (pg_dump sees commits)."""
    machine = Machine.objects.create(machine_id="reactor-1", name="Reactor 1")
    tags = [Tag.objects.create(machine=machine, name=f"Reactor_T{i}", datatype="REAL") for i in range(3)]
    for tag in tags:
        audit_record(action="config.add", username="erin", object_type="tag", object_id=tag.pk,
                     new_value={"name": tag.name}, reason="commissioning")
    now = time.time()
    for tag in tags:
        buffer_append_rows([now - 60 + i for i in range(50)], [tag.pk] * 50, [20.0 + i for i in range(50)], [0] * 50)
    while historian_writer_flush():
        pass
    yield tags
    for tag in tags:  # the partitioned history tables are not Django's to flush
        history_delete_for_tag(tag.pk)


def test_a_backup_restores_into_an_empty_database_with_counts_equal_and_the_audit_chain_verified(
        plant, empty_database, tmp_path):
    source = _url(connection.settings_dict["NAME"])
    backup = subprocess.run(["bash", "scripts/backup.sh", str(tmp_path)], cwd=ROOT, env=_env(source),
                            capture_output=True, text=True, timeout=240)
    assert backup.returncode == 0, backup.stdout + backup.stderr
    dump = Path(backup.stdout.strip().splitlines()[-1])
    assert dump.is_file() and dump.with_suffix(".checkpoint.json").is_file()
    before = _row_counts(source)
    samples = django_apps.get_model("historian", "HistorianSample")._meta.db_table
    assert before[Tag._meta.db_table] == 3 and before[AuditRecord._meta.db_table] >= 3
    # Three tags' 50 samples each, as the historian writer committed them (an earlier transactional test may have
    # left its own rows in the partitioned table, which Django does not flush: count these tags' rows only).
    ids = ",".join(str(tag.pk) for tag in plant)
    assert int(_psql(source, f'SELECT count(*) FROM "{samples}" WHERE tag_id IN ({ids})')) == 150

    restore = subprocess.run(["bash", "scripts/restore.sh", str(dump)], cwd=ROOT, env=_env(empty_database),
                             capture_output=True, text=True, timeout=240)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert "Audit trail intact" in restore.stdout and "0 broken links" in restore.stdout
    assert "1 checkpoints checked" in restore.stdout or "2 checkpoints checked" in restore.stdout, restore.stdout
    after = _row_counts(empty_database)
    assert after == before


def test_restore_refuses_a_database_that_already_has_tables(plant, tmp_path):
    source = _url(connection.settings_dict["NAME"])
    dump = tmp_path / "any.dump"
    dump.write_bytes(b"not reached")
    restore = subprocess.run(["bash", "scripts/restore.sh", str(dump)], cwd=ROOT, env=_env(source),
                             capture_output=True, text=True, timeout=60)
    assert restore.returncode == 3
    assert "refusing" in restore.stderr
    assert AuditRecord.objects.count() == 3  # nothing touched
