"""Each simulated route lives under its own prefix, so their paths never collide."""

from django.urls import include, path

from . import videos_gateway
from . import aggregator
from . import gemini
from . import tasks_api
from . import openai_video

urlpatterns = [
    path("videos-gateway/", include(videos_gateway)),
    path("aggregator/", include(aggregator)),
    path("gemini/", include(gemini)),
    path("tasks-api/", include(tasks_api)),
    path("openai-video/", include(openai_video)),
]
