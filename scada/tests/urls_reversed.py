"""The root URLs with the app includes in reverse order: which app answers must not depend on order."""

from scada.urls import urlpatterns as _root

urlpatterns = list(reversed(_root))
