from celery import shared_task

from . import importing
from .models import ProfileImport


@shared_task(ignore_result=True)
def import_profiles(import_id: int) -> None:
    """Import the CSV stored on ProfileImport `import_id`; a finished import is left alone."""
    profile_import = ProfileImport.objects.filter(pk=import_id).first()
    if profile_import is None or profile_import.is_finished:
        return
    importing.run_import(profile_import)
