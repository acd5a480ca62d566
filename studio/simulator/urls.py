"""Each route's simulator under its own prefix, so their paths never collide; mounted from the route table."""

from django.urls import include, path

from studio.providers.registry import ROUTES, simulator_of

urlpatterns = [path(f"{slug}/", include(simulator_of(slug))) for slug in ROUTES]
