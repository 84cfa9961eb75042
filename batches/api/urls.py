"""Batch routes under /api/ (no trailing slash): seed 000's four, plus abort, comments, deviations, phases; and
the recipes, read-only."""

from rest_framework.routers import SimpleRouter

from batches.api import views

app_name = "batches-api"

router = SimpleRouter(trailing_slash=False)
router.register("batches", views.BatchViewSet, basename="batch")
router.register("recipes", views.RecipeViewSet, basename="recipe")

urlpatterns = router.urls
