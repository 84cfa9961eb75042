"""Batch services: every write of recipes and batches, audited (HackSoft services, keyword-only).

- `recipes`: approve (e-signature), retire, new version, and the checks a draft must pass.
- `execution`: start (parameters through the tag write service), phases, comments, deviations, abort.
- `closing`: close with the reviewer's e-signature, and the second person's "Verified by".
"""

from batches.services.closing import CLOSER_ROLE, batch_close
from batches.services.execution import (
    PHASE_ACTIONS,
    batch_abort,
    batch_comment_add,
    batch_deviation_add,
    batch_phase_complete,
    batch_start,
    recipe_resolve,
)
from batches.services.recipes import (
    APPROVER_ROLE,
    parameter_value_check,
    recipe_approve,
    recipe_assert_editable,
    recipe_content,
    recipe_new_version,
    recipe_problems,
    recipe_retire,
)

__all__ = ["APPROVER_ROLE", "CLOSER_ROLE", "PHASE_ACTIONS", "batch_abort", "batch_close", "batch_comment_add",
           "batch_deviation_add", "batch_phase_complete", "batch_start", "parameter_value_check", "recipe_approve",
           "recipe_assert_editable", "recipe_content", "recipe_new_version", "recipe_problems", "recipe_resolve",
           "recipe_retire"]
