from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "studio.tasks"

    def ready(self) -> None:
        # Connects the tracker cluster's post_spawn receiver in every process django-q2 starts.
        from . import queue  # noqa: F401
