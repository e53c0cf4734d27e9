from providers.models import TestEmail
from tests.servers import (  # noqa: F401  (fixtures)
    closed_port,
    esp_api,
    netcore_api,
    sendgrid_api,
    smtp_server,
    tls_ca,
)

# The model's name starts with "Test"; tell pytest it is not a test class.
TestEmail.__test__ = False
