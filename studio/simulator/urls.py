"""Each route's simulator under its own prefix, so their paths never collide; mounted from the route table.

studio/urls.py includes these only where the simulator is on (settings.SIMULATOR_ENABLED).
"""

from django.urls import include, path

from studio.providers.registry import ROUTES, simulator_of

urlpatterns = [path(f"{slug}/", include(simulator_of(slug))) for slug in ROUTES]
