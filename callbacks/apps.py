from django.apps import AppConfig


class CallbacksConfig(AppConfig):
    name = "callbacks"
    verbose_name = "Callbacks and delivery stats"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
