"""Historian storage: raw samples (narrow, partitioned by time), string samples, rollups, bookkeeping.

Samples and rollups are data, not configuration, so they do not inherit BaseModel (two timestamps per sample
would double its size) and they carry the tag id as a plain integer rather than a foreign key: a foreign key
would make every COPY look up the tags table and every tag delete scan all history; the writer checks tag ids
itself and `historian.services.history_delete_for_tag` removes a deleted tag's history.

On PostgreSQL `historian_sample` and `historian_rollup_1m` are declaratively partitioned by time (see
historian/partitions.py); the migration creates them with SQL, hence `managed = False`. On SQLite (the demo)
they are plain tables with the same columns.
"""

from django.db import models

from scada.models import BaseModel

__all__ = ["HistorianSample", "HistorianStringSample", "HistorianRollup1m", "HistorianRollup1h",
           "HistorianDirtyRange", "HistorianWriterCheckpoint", "TagHistorySetting"]


class HistorianSample(models.Model):
    """One numeric value change of one tag: time, value (BOOL/INT/REAL as float), quality code.

    Columns are ordered widest first so a row packs into 22 bytes of data (PostgreSQL pads each column to its
    alignment). `quality` holds quality and sub-status (historian.constants.quality_code). (tag_id, ts) is
    unique: a hot partition has a unique B-tree index, a compacted one a BRIN index and the writer's check.
    """

    pk = models.CompositePrimaryKey("tag_id", "ts")
    ts = models.DateTimeField()
    value = models.FloatField(null=True)
    tag_id = models.IntegerField()
    quality = models.SmallIntegerField(default=0)

    class Meta:
        managed = False
        db_table = "historian_sample"
        ordering = ["tag_id", "ts"]
        verbose_name = "historian sample"

    def __str__(self):
        return f"{self.tag_id}@{self.ts.isoformat()}={self.value}"


class HistorianStringSample(models.Model):
    """One change of a STRING tag (rare, so kept apart to keep the numeric table narrow)."""

    pk = models.CompositePrimaryKey("tag_id", "ts")
    tag_id = models.IntegerField()
    ts = models.DateTimeField()
    value = models.TextField(null=True)
    quality = models.SmallIntegerField(default=0)

    class Meta:
        db_table = "historian_string_sample"
        ordering = ["tag_id", "ts"]
        verbose_name = "historian string sample"
        indexes = [models.Index(fields=["ts"], name="historian_string_ts")]

    def __str__(self):
        return f"{self.tag_id}@{self.ts.isoformat()}={self.value!r}"


class _Rollup(models.Model):
    """An aggregate of one tag's samples in one bucket, in a form that combines exactly with its neighbours.

    - value_count/sum/min/max, value_first/last: over the usable samples (quality below BAD) in the bucket.
    - head_ts/tail_ts: epoch seconds of the first and last sample of any quality; tail_value/tail_good: the
      last sample's value and whether it was usable. The value a tag holds between two buckets is the tail of
      the earlier one, so the time-weighted average of any range can be stitched from buckets.
    - integral/covered: sum of value × seconds and of seconds over the intervals between consecutive samples
      inside the bucket that start with a usable sample (a BAD sample ends a covered interval).
    """

    tag_id = models.IntegerField()
    bucket = models.DateTimeField()
    value_count = models.IntegerField(default=0)
    value_sum = models.FloatField(null=True)
    value_min = models.FloatField(null=True)
    value_max = models.FloatField(null=True)
    value_first = models.FloatField(null=True)
    value_last = models.FloatField(null=True)
    head_ts = models.FloatField()
    tail_ts = models.FloatField()
    tail_value = models.FloatField(null=True)
    tail_good = models.BooleanField()
    integral = models.FloatField(default=0)
    covered = models.FloatField(default=0)

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.tag_id}@{self.bucket.isoformat()}"


class HistorianRollup1m(_Rollup):
    """1-minute rollup (partitioned by bucket on PostgreSQL, like the samples)."""

    pk = models.CompositePrimaryKey("tag_id", "bucket")

    class Meta:
        managed = False
        db_table = "historian_rollup_1m"
        ordering = ["tag_id", "bucket"]
        verbose_name = "1-minute rollup"


class HistorianRollup1h(_Rollup):
    """1-hour rollup, computed from the 1-minute rollups."""

    pk = models.CompositePrimaryKey("tag_id", "bucket")

    class Meta:
        db_table = "historian_rollup_1h"
        ordering = ["tag_id", "bucket"]
        verbose_name = "1-hour rollup"
        indexes = [models.Index(fields=["bucket"], name="historian_rollup_1h_bucket")]


class HistorianDirtyRange(models.Model):
    """A time range with raw samples newer than its rollups; the writer adds one in each commit.

    The rollup refresher consumes these. While one is pending, queries read raw samples from its start on,
    so a rollup is only ever used where it is exact.
    """

    ts_from = models.DateTimeField()
    ts_to = models.DateTimeField()

    class Meta:
        ordering = ["ts_from"]
        verbose_name = "historian dirty range"
        indexes = [models.Index(fields=["ts_from"], name="historian_dirty_from")]

    def __str__(self):
        return f"{self.ts_from.isoformat()}..{self.ts_to.isoformat()}"


class HistorianWriterCheckpoint(models.Model):
    """The last buffer entry the writer committed, updated in the same transaction as the samples.

    After a crash between COMMIT and the trim of the Redis stream, the next writer skips entries up to here
    instead of writing them again. `stream_epoch` names the stream instance: if Redis lost the stream, the
    epoch changes and the checkpoint no longer applies.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    stream_epoch = models.CharField(max_length=64)
    last_id = models.CharField(max_length=64)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "historian writer checkpoint"

    def __str__(self):
        return f"{self.stream_epoch}:{self.last_id}"


class TagHistorySetting(BaseModel):
    """Per-tag historian settings; a tag without one uses the global defaults (docs/configuration.md)."""

    tag = models.OneToOneField(to="tags.Tag", on_delete=models.CASCADE, related_name="history_setting")
    store_every_minutes = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Store the current value at least this often even if it does not change (0 = never; "
                  "blank = KILN_HISTORIAN_STORE_EVERY_MINUTES).",
    )
    retention_days = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Delete this tag's raw samples older than this (blank = KILN_HISTORIAN_RETENTION_DAYS). "
                  "Only shorter than the global retention has an effect; that one drops whole partitions.",
    )

    class Meta:
        ordering = ["tag"]
        verbose_name = "tag history setting"

    def __str__(self):
        return f"history of {self.tag}"
