from providers.models import TestEmail  # noqa: E402
from tests.servers import (  # noqa: F401  (fixtures)
    celery_worker,
    closed_port,
    esp_api,
    netcore_api,
    sendgrid_api,
    silent_server,
    smtp_server,
    tls_ca,
)

# The model's name starts with "Test"; tell pytest it is not a test class.
TestEmail.__test__ = False
