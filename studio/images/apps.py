from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "studio.images"
