"""Shared model base."""

from django.db import models


class BaseModel(models.Model):
    """Every Kiln model records when it was created and last changed."""

    created = models.DateTimeField(auto_now_add=True)
    last_updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
