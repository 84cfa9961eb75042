"""Tag services: the one write path for tag values, and the audited configuration changes of tags and machines.

A package split along its seams; `from tags.services import X` keeps working for every name below.
- `writes`: `tag_write`, `tag_write_batch`, and their two phases `tag_write_check` (in `write_checks`) /
  `tag_write_apply`.
- `config`: `tag_create`, `tag_update`, `tag_delete`, `tags_set_active`, machines from device types.
- `parsing`: `datatype_parse`, `quality_parse`, `role_parse`, shared by the API, admin and filters.
"""

from tags.services.config import (
    machine_create_from_type,
    machine_get_or_create,
    machine_sync_from_type,
    tag_create,
    tag_delete,
    tag_update,
    tags_set_active,
)
from tags.services.parsing import datatype_parse, quality_parse, role_parse
from tags.services.writes import (
    BATCH_WRITE_MAX,
    BatchItemResult,
    DriverWriteFailed,
    WritePlan,
    WriteResult,
    WriteUnavailable,
    has_nul,
    tag_write,
    tag_write_apply,
    tag_write_batch,
    tag_write_check,
    tag_write_refused_record,
)

__all__ = [
    "WriteResult",
    "BatchItemResult",
    "DriverWriteFailed",
    "WriteUnavailable",
    "WritePlan",
    "tag_write",
    "tag_write_check",
    "tag_write_apply",
    "tag_write_refused_record",
    "has_nul",
    "tag_write_batch",
    "tag_create",
    "tag_update",
    "tag_delete",
    "tags_set_active",
    "machine_create_from_type",
    "machine_get_or_create",
    "machine_sync_from_type",
    "datatype_parse",
    "quality_parse",
    "role_parse",
    "BATCH_WRITE_MAX",
]
