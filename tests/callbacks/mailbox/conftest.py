from tests.imap_server import imap_server  # noqa: F401  (fixture)
from tests.servers import celery_worker, closed_port, tls_ca  # noqa: F401  (fixtures)
