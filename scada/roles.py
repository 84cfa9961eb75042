"""Roles are ordered: Operator < Supervisor < Engineer < Admin; each may do all that the roles below may."""

from django.db import models


class Role(models.IntegerChoices):
    OPERATOR = 10, "operator"
    SUPERVISOR = 20, "supervisor"
    ENGINEER = 30, "engineer"
    ADMIN = 40, "admin"

    @classmethod
    def from_name(cls, name: str) -> "Role":
        """'Supervisor' or 'supervisor' → Role.SUPERVISOR; ValueError for anything else."""
        for role in cls:
            if role.label == str(name).strip().lower():
                return role
        raise ValueError(f"Unknown role {name!r}; expected one of {[r.label for r in cls]}")


ROLE_NAMES = [r.label for r in Role]
