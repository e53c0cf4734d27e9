from django.apps import AppConfig


class CallbacksConfig(AppConfig):
    name = "callbacks"
    verbose_name = "Callbacks and delivery stats"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from providers.models import EmailProvider

        from . import checks  # noqa: F401  (registers the system checks)
        from .inbox import apply_before_provider_delete

        pre_delete.connect(
            apply_before_provider_delete, sender=EmailProvider, dispatch_uid="apply_inbox_first"
        )
