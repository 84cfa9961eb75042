# The compacted layout (historian/chunks.py): one row per tag per compaction window with its samples as arrays,
# compressed with PostgreSQL's lz4 (pglz where the server was built without lz4); a BRIN index on ts for every
# existing sample partition (new ones get it from historian/partitions.py). PostgreSQL only: SQLite (the demo)
# keeps samples as rows.

from django.db import migrations

CREATE = """
CREATE TABLE historian_chunk (
    tag_id integer NOT NULL,
    ts_from timestamptz NOT NULL,
    ts_to timestamptz NOT NULL,
    n integer NOT NULL,
    ts timestamptz[] NOT NULL,
    v8 double precision[],
    v4 real[],
    q smallint[] NOT NULL
);
CREATE INDEX historian_chunk_tag_from ON historian_chunk (tag_id, ts_from);
CREATE INDEX historian_chunk_from ON historian_chunk (ts_from);
DO $$
BEGIN
    ALTER TABLE historian_chunk ALTER COLUMN ts SET COMPRESSION lz4, ALTER COLUMN v8 SET COMPRESSION lz4,
        ALTER COLUMN v4 SET COMPRESSION lz4, ALTER COLUMN q SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available on this server: historian_chunk uses pglz';
END $$;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CREATE)
    with schema_editor.connection.cursor() as cur:
        cur.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'historian_sample'::regclass")
        for (name,) in cur.fetchall():
            cur.execute(f"CREATE INDEX IF NOT EXISTS {name}_ts_brin ON {name} USING brin (ts)")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # Chunked samples go back to rows first, so a rollback loses nothing.
    schema_editor.execute("""
        INSERT INTO historian_sample (ts, value, tag_id, quality)
        SELECT u.ts, coalesce(u.v8, u.v4), c.tag_id, u.q
        FROM historian_chunk c CROSS JOIN LATERAL unnest(c.ts, c.v8, c.v4, c.q) AS u(ts, v8, v4, q)
        ON CONFLICT DO NOTHING;
        DROP TABLE historian_chunk;
    """)


class Migration(migrations.Migration):

    dependencies = [
        ("historian", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, backward)]
