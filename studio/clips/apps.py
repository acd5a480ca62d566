from django.apps import AppConfig


class ClipsConfig(AppConfig):
    name = "studio.clips"
