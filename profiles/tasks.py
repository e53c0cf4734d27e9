import logging

from celery import shared_task

from . import exporting, importing, retention
from .models import ProfileExport, ProfileImport

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def import_profiles(import_id: int) -> None:
    """Import the CSV stored on ProfileImport `import_id`; a finished import is left alone."""
    profile_import = ProfileImport.objects.filter(pk=import_id).first()
    if profile_import is None or profile_import.is_finished:
        return
    importing.run_import(profile_import)


@shared_task(ignore_result=True)
def export_profiles(export_id: int) -> None:
    """Write the CSV of ProfileExport `export_id`; a finished export is left alone."""
    export = ProfileExport.objects.filter(pk=export_id).first()
    if export is None or export.is_finished:
        return
    exporting.run_export(export)


@shared_task(ignore_result=True)
def prune_old_exports() -> None:
    """Hourly (beat): exports are kept for a day, even when no new one is started."""
    exporting.prune_old_exports()


@shared_task(ignore_result=True)
def prune_timeline_deliveries() -> None:
    """Hourly (beat): create the coming days' timeline partitions, forget old deliveries."""
    result = retention.prune()
    if result.deleted or result.dropped:
        log.info(
            "Forgot %s delivered timeline events and partitions %s",
            result.deleted,
            result.dropped,
        )
