"""Django app configuration for the demo: the synthesiser, the demo catalogue and its simulated votes."""
from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Demo"
