from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "studio.review"
    verbose_name = "Review"

    def ready(self) -> None:
        # The tasks app sits below review and cannot call it: it announces a finished final instead.
        from studio.tasks.signals import final_archived

        from .notifications import on_final_archived

        final_archived.connect(on_final_archived, dispatch_uid="review-final-finished")
