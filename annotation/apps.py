"""Django app configuration for annotation: campaigns, their raters and quality, and dataset exports."""
from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Annotation"

    def ready(self) -> None:
        from annotation import hooks

        hooks.register()
