"""ISA-88-lite recipes and batches: what a recipe asks for, what a batch did, and who signed it.

A recipe is versioned: a draft is edited in Django admin, approved with an e-signature (accounts.signatures),
then frozen; a change is a new draft version. A batch points at the exact recipe version it started with, so
approving or retiring a later version never touches a running batch. Batch rows are written only by
batches.services (every change of state is audited); admin shows them read-only.
"""

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from batches.choices import (
    BatchStatus,
    DeviationSeverity,
    ParameterType,
    PhaseRequirement,
    PhaseStatus,
    RecipeStatus,
)
from scada.models import BaseModel

__all__ = ["Recipe", "RecipeParameter", "RecipePhase", "Batch", "BatchParameter", "BatchPhase", "BatchComment",
           "BatchDeviation"]

recipe_name_validator = RegexValidator(r"^[a-z0-9][a-z0-9_.-]{0,63}$",
                                       "Lower-case letters, digits, '.', '_' and '-' (e.g. reactor-heat-cycle).")
parameter_name_validator = RegexValidator(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                                          "A letter or '_' then letters, digits or '_' (e.g. target_temp).")


class Recipe(BaseModel):
    """One version of a recipe: parameters, recorded tags, ordered phases and close rules.

    Only an approved version runs. Approval is an e-signature (`approval_signature`) by an Engineer or Admin
    other than the author; once approved the version is frozen (services refuse edits, admin shows it read-only).
    """

    name = models.CharField(max_length=64, validators=[recipe_name_validator])
    version = models.PositiveIntegerField(default=1)
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=RecipeStatus.choices, default=RecipeStatus.DRAFT)
    machines = models.ManyToManyField(to="tags.Machine", related_name="recipes", blank=True,
                                      help_text="The machines this recipe runs on.")
    recorded_tags = models.ManyToManyField(to="tags.Tag", related_name="recorded_by_recipes", blank=True,
                                           help_text="Tags summarised (min/max/average) in the batch record.")
    requires_verification = models.BooleanField(
        default=False, help_text="Closing needs a second, different person to sign as 'Verified by'.")
    created_by = models.ForeignKey(to="accounts.User", on_delete=models.PROTECT, related_name="+", null=True,
                                   blank=True, editable=False)
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    approval_signature = models.ForeignKey(to="accounts.Signature", on_delete=models.PROTECT, related_name="+",
                                           null=True, blank=True, editable=False)
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name", "-version"]
        verbose_name = "recipe"
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="batches_recipe_name_version"),
            models.CheckConstraint(condition=Q(status="draft") | Q(approval_signature__isnull=False),
                                   name="batches_recipe_approved_is_signed"),
        ]

    def __str__(self):
        return f"{self.name} v{self.version} ({self.status})"

    @property
    def is_frozen(self) -> bool:
        return self.status != RecipeStatus.DRAFT


class RecipeParameter(BaseModel):
    """A value the batch starts with: typed, limited, defaulted, and written to `target_tag` when set."""

    recipe = models.ForeignKey(to="batches.Recipe", on_delete=models.CASCADE, related_name="parameters")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=64, validators=[parameter_name_validator])
    description = models.CharField(max_length=300, blank=True)
    datatype = models.CharField(max_length=8, choices=ParameterType.choices, default=ParameterType.REAL)
    unit = models.CharField(max_length=32, blank=True)
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)
    default = models.JSONField(null=True, blank=True, help_text="Planned value; empty: the starter must give one.")
    target_tag = models.ForeignKey(to="tags.Tag", on_delete=models.PROTECT, related_name="recipe_parameters",
                                   null=True, blank=True, help_text="Written through the tag write service at start.")

    class Meta:
        ordering = ["recipe", "position", "name"]
        verbose_name = "recipe parameter"
        constraints = [
            models.UniqueConstraint(fields=["recipe", "name"], name="batches_recipeparameter_name"),
            models.CheckConstraint(condition=Q(min_value__isnull=True) | Q(max_value__isnull=True)
                                   | Q(min_value__lt=models.F("max_value")), name="batches_recipeparameter_limits"),
        ]

    def __str__(self):
        return f"{self.recipe.name} v{self.recipe.version}: {self.name}"


class RecipePhase(BaseModel):
    """One step of a recipe, in `position` order: instructions and what it needs before the batch moves on."""

    recipe = models.ForeignKey(to="batches.Recipe", on_delete=models.CASCADE, related_name="phases")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    instructions = models.TextField(blank=True)
    requirement = models.CharField(max_length=16, choices=PhaseRequirement.choices, default=PhaseRequirement.CONFIRM)
    value_label = models.CharField(max_length=100, blank=True, help_text="What to enter (requirement: value).")
    value_unit = models.CharField(max_length=32, blank=True)
    value_min = models.FloatField(null=True, blank=True)
    value_max = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["recipe", "position"]
        verbose_name = "recipe phase"
        constraints = [
            models.UniqueConstraint(fields=["recipe", "position"], name="batches_recipephase_position"),
            models.CheckConstraint(condition=Q(value_min__isnull=True) | Q(value_max__isnull=True)
                                   | Q(value_min__lte=models.F("value_max")), name="batches_recipephase_limits"),
        ]

    def __str__(self):
        return f"{self.recipe.name} v{self.recipe.version}: {self.position}. {self.name}"


class Batch(BaseModel):
    """One run of an approved recipe version on a machine, identified by its lot.

    running → complete (every phase done) → closed (signed); or aborted (with a reason) from running. One running
    batch per machine (a partial unique constraint, so two simultaneous starts cannot both win).
    `signed_hash` is the content hash of the record part the close signature signed (batches.ebr): the record is
    shown as changed after signing when its current hash differs.
    """

    recipe = models.ForeignKey(to="batches.Recipe", on_delete=models.PROTECT, related_name="batches")
    machine = models.ForeignKey(to="tags.Machine", on_delete=models.PROTECT, related_name="batches")
    lot = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=BatchStatus.choices, default=BatchStatus.RUNNING)
    started_by = models.ForeignKey(to="accounts.User", on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    aborted_at = models.DateTimeField(null=True, blank=True)
    aborted_by = models.ForeignKey(to="accounts.User", on_delete=models.PROTECT, related_name="+", null=True,
                                   blank=True)
    abort_reason = models.TextField(blank=True)
    current_phase = models.PositiveSmallIntegerField(null=True, blank=True,
                                                     help_text="Position of the active phase; empty when none.")
    close_signature = models.ForeignKey(to="accounts.Signature", on_delete=models.PROTECT, related_name="+",
                                        null=True, blank=True)
    verify_signature = models.ForeignKey(to="accounts.Signature", on_delete=models.PROTECT, related_name="+",
                                         null=True, blank=True)
    signed_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "batch"
        verbose_name_plural = "batches"
        constraints = [
            models.UniqueConstraint(fields=["machine"], condition=Q(status="running"),
                                    name="batches_batch_one_running_per_machine"),
        ]
        indexes = [models.Index(fields=["status", "-started_at"], name="batches_batch_status_started")]

    def __str__(self):
        return f"Batch {self.pk} lot {self.lot} ({self.recipe.name} v{self.recipe.version} on {self.machine})"

    @property
    def ended_at(self):
        """When the batch stopped running: completed or aborted (the end of its record's time window)."""
        return self.completed_at or self.aborted_at


class BatchParameter(models.Model):
    """A parameter as the batch ran it: planned (the recipe default) and actual, and the tag write that set it."""

    batch = models.ForeignKey(to="batches.Batch", on_delete=models.CASCADE, related_name="parameters")
    parameter = models.ForeignKey(to="batches.RecipeParameter", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=64)
    planned = models.JSONField(null=True, blank=True)
    value = models.JSONField(null=True, blank=True)
    tag_name = models.CharField(max_length=128, blank=True)
    write_audit_id = models.BigIntegerField(null=True, blank=True, help_text="The tag.write audit record.")
    confirmed = models.BooleanField(null=True, blank=True, help_text="PLC read-back verdict; empty: no PLC.")
    written_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "id"]
        verbose_name = "batch parameter"
        constraints = [models.UniqueConstraint(fields=["batch", "name"], name="batches_batchparameter_name")]

    def __str__(self):
        return f"{self.name}={self.value!r}"


class BatchPhase(models.Model):
    """A recipe phase as run in one batch: when it started and ended, who completed it, the value entered."""

    batch = models.ForeignKey(to="batches.Batch", on_delete=models.CASCADE, related_name="phases")
    phase = models.ForeignKey(to="batches.RecipePhase", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=PhaseStatus.choices, default=PhaseStatus.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(to="accounts.User", on_delete=models.PROTECT, related_name="+", null=True,
                                     blank=True)
    completed_by_name = models.CharField(max_length=300, blank=True)
    value = models.JSONField(null=True, blank=True)
    signature = models.ForeignKey(to="accounts.Signature", on_delete=models.PROTECT, related_name="+", null=True,
                                  blank=True)

    class Meta:
        ordering = ["batch", "position"]
        verbose_name = "batch phase"
        constraints = [models.UniqueConstraint(fields=["batch", "position"], name="batches_batchphase_position")]

    def __str__(self):
        return f"batch {self.batch_id} phase {self.position} ({self.status})"


class BatchComment(BaseModel):
    """A remark on a batch by anyone Operator+, kept in its record."""

    batch = models.ForeignKey(to="batches.Batch", on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(to="accounts.User", on_delete=models.PROTECT, related_name="+")
    author_name = models.CharField(max_length=300)
    phase_position = models.PositiveSmallIntegerField(null=True, blank=True)
    text = models.TextField()

    class Meta:
        ordering = ["batch", "created", "id"]
        verbose_name = "batch comment"

    def __str__(self):
        return f"batch {self.batch_id}: {self.author_name}: {self.text[:40]}"


class BatchDeviation(BaseModel):
    """A departure from the recipe (GMP deviation), reported by anyone Operator+, with its severity."""

    batch = models.ForeignKey(to="batches.Batch", on_delete=models.CASCADE, related_name="deviations")
    reported_by = models.ForeignKey(to="accounts.User", on_delete=models.PROTECT, related_name="+")
    reported_by_name = models.CharField(max_length=300)
    phase_position = models.PositiveSmallIntegerField(null=True, blank=True)
    severity = models.CharField(max_length=16, choices=DeviationSeverity.choices, default=DeviationSeverity.MINOR)
    description = models.TextField()

    class Meta:
        ordering = ["batch", "created", "id"]
        verbose_name = "batch deviation"

    def __str__(self):
        return f"batch {self.batch_id}: {self.severity}: {self.description[:40]}"
