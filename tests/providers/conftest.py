from tests.aws import moto_ses, sns  # noqa: F401  (fixtures)
from tests.postmark_api import postmark_api  # noqa: F401  (fixture)
from tests.servers import (  # noqa: F401  (fixtures)
    closed_port,
    esp_api,
    netcore_api,
    sendgrid_api,
    silent_server,
    smtp_server,
    tls_ca,
)
