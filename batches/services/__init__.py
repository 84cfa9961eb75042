"""Batch services: every write of recipes and batches, audited (HackSoft services, keyword-only).

- `recipes`: approve (e-signature), retire, new version, and the checks a draft must pass.
"""

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

__all__ = ["APPROVER_ROLE", "parameter_value_check", "recipe_approve", "recipe_assert_editable", "recipe_content",
           "recipe_new_version", "recipe_problems", "recipe_retire"]
