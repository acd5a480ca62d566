"""Each simulated route lives under its own prefix, so their paths never collide."""

from django.urls import include, path

from . import videos_gateway

urlpatterns = [
    path("videos-gateway/", include(videos_gateway)),
]
