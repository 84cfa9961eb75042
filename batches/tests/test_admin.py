"""Django admin: an engineer drafts, another approves with an e-signature page; frozen versions are read-only."""

import pytest
from django.test import Client
from django.urls import reverse

from batches.choices import RecipeStatus
from batches.models import Recipe
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_it_approves_a_recipe_from_the_approval_page(draft_recipe, engineer):
    url = reverse("admin:batches_recipe_approve", args=[draft_recipe.pk])
    response = _client(engineer).post(url, {"password": PASSWORD, "meaning": "Approved", "reason": "QA release"})
    assert response.status_code == 302
    draft_recipe.refresh_from_db()
    assert draft_recipe.status == RecipeStatus.APPROVED
    assert draft_recipe.approval_signature.signer == engineer


def test_a_wrong_password_on_the_approval_page_says_so_and_approves_nothing(draft_recipe, engineer):
    url = reverse("admin:batches_recipe_approve", args=[draft_recipe.pk])
    response = _client(engineer).post(url, {"password": "nope", "meaning": "Approved", "reason": "QA"}, follow=True)
    assert response.status_code == 200
    assert any("password" in str(m).lower() or "invalid" in str(m).lower() for m in response.context["messages"])
    draft_recipe.refresh_from_db()
    assert draft_recipe.status == RecipeStatus.DRAFT


def test_the_draft_change_page_offers_approval(draft_recipe, engineer):
    response = _client(engineer).get(reverse("admin:batches_recipe_change", args=[draft_recipe.pk]))
    assert response.status_code == 200
    assert reverse("admin:batches_recipe_approve", args=[draft_recipe.pk]).encode() in response.content


def test_an_approved_recipe_cannot_be_changed_in_admin(approved_recipe, admin_user):
    url = reverse("admin:batches_recipe_change", args=[approved_recipe.pk])
    client = _client(admin_user)
    client.post(url, {"name": "renamed", "version": 1, "title": "x"})
    assert Recipe.objects.get(pk=approved_recipe.pk).name == "reactor-heat-cycle"


def test_an_engineer_creates_a_recipe_as_its_author(engineer, reactor):
    response = _client(engineer).post(reverse("admin:batches_recipe_add"), {
        "name": "mix", "version": 1, "title": "Mix", "description": "", "machines": [reactor.pk],
        "parameters-TOTAL_FORMS": 0, "parameters-INITIAL_FORMS": 0,
        "phases-TOTAL_FORMS": 0, "phases-INITIAL_FORMS": 0})
    assert response.status_code == 302, response.content[:2000]
    assert Recipe.objects.get(name="mix").created_by == engineer
