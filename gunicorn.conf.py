"""gunicorn settings for the web tier: `gunicorn config.wsgi -c gunicorn.conf.py`.

Threaded workers, so a client that sends its request slowly holds one thread, not a whole
process; production still sits behind a buffering reverse proxy (README, "Deployment"), which
reads each request completely before gunicorn sees it. The access and error logs never show a
callback token (config.redaction).
"""

import os

from gunicorn.glogging import Logger

from config.redaction import RedactCallbackTokens

bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"]
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "8"))
# A worker whose main loop stops answering the arbiter for this long is restarted.
timeout = 30
graceful_timeout = 30
# Idle keep-alive connections (from the proxy) are closed after this many seconds.
keepalive = 5

accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'


class RedactingLogger(Logger):
    """gunicorn's logger, with callback tokens redacted from the access and error logs."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(existing, RedactCallbackTokens) for existing in log.filters):
                log.addFilter(RedactCallbackTokens())


logger_class = RedactingLogger
