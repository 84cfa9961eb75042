"""HMI URLs: the pages (namespace `hmi`) and the screens API (namespace `hmi-api`, under /api/)."""

from django.urls import include, path

from hmi import views

page_patterns = [
    path("", views.home_view, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("hmi/token", views.token_view, name="token"),
    path("hmi/lock", views.lock_view, name="lock"),
    path("screens/", views.screen_list_view, name="screen-list"),
    path("screens/<slug:slug>/", views.screen_view, name="screen"),
    path("editor/", views.editor_view, name="editor-new"),
    path("editor/<slug:slug>/", views.editor_view, name="editor"),
    path("tags/", views.tags_view, name="tags"),
    path("trends/", views.trends_view, name="trends"),
    path("alarms/", views.alarms_view, name="alarms"),
    path("alarms/journal/", views.journal_view, name="journal"),
    path("alarms/kpis/", views.kpis_view, name="kpis"),
]

urlpatterns = [
    path("api/", include("hmi.api.urls")),
    path("", include((page_patterns, "hmi"))),
]
