"""A real IMAP server on loopback for the bounce-mailbox tests: Debian's Dovecot.

`imap_server` starts ``dovecot -F`` with a throw-away configuration (no system service): a
free loopback port for IMAP with STARTTLS and one for implicit TLS, a certificate from the
`tls_ca` trustme CA (which ``settings.SMTP_CA_FILE`` trusts), Maildirs and a passwd-file user
in a temporary folder. `ImapServer.append` puts a message in a folder with imaplib APPEND.
``make services`` installs Dovecot.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

IMAP_USER = "bounces@postdesk.test"
IMAP_PASSWORD = "imap-password-for-tests"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = pd-{port}
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%n
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
default_internal_user = {user}
default_login_user = {user}
default_internal_group = {group}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%n
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {tls_port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    user = {user}
  }}
  unix_listener stats-writer {{
    user = {user}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ImapServer:
    host: str
    port: int  # STARTTLS
    tls_port: int  # implicit TLS
    root: Path
    client_context: ssl.SSLContext

    def connect(self) -> imaplib.IMAP4_SSL:
        client = imaplib.IMAP4_SSL(self.host, self.tls_port, ssl_context=self.client_context)
        client.login(IMAP_USER, IMAP_PASSWORD)
        return client

    def append(self, message: bytes, folder: str = "INBOX") -> None:
        client = self.connect()
        try:
            client.create(folder)  # NO when it exists
            status, data = client.append(folder, "", None, message)
            assert status == "OK", data
        finally:
            client.logout()

    def messages(self, folder: str = "INBOX") -> list[tuple[int, str]]:
        """(UID, flags) of each message in `folder`."""
        client = self.connect()
        try:
            client.select(folder)
            _status, data = client.uid("FETCH", "1:*", "(UID FLAGS)")
            found = []
            for line in data:
                if not line:
                    continue
                text = line.decode()
                uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
                found.append((uid, text.split("FLAGS (")[1].split(")")[0]))
            return found
        finally:
            client.logout()


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dovecot exited: {log.read_text() if log.exists() else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("dovecot did not start listening")


@pytest.fixture
def imap_server(tls_ca):
    if not os.path.exists(DOVECOT):
        pytest.fail("Dovecot is not installed: run `make services` (apt-get install dovecot-imapd)")
    # Dovecot's mail processes run as an unprivileged user: the folder must be reachable by
    # it, which pytest's private tmp_path is not.
    root = Path(tempfile.mkdtemp(prefix="pd-dovecot-"))
    os.chmod(root, 0o755)
    account = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    group = account.pw_gid
    for folder in ("run", "state", "mail", "home"):
        (root / folder).mkdir()
        os.chown(root / folder, account.pw_uid, group)
    cert = tls_ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    (root / "passwd").write_text(f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}::::::\n")
    port, tls_port = free_port(), free_port()
    config = root / "dovecot.conf"
    config.write_text(
        CONFIG.format(
            root=root,
            port=port,
            tls_port=tls_port,
            uid=account.pw_uid,
            gid=group,
            user=account.pw_name,
            group=grp.getgrgid(group).gr_name,
        )
    )
    process = subprocess.Popen(  # noqa: S603
        [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_for_port(tls_port, process, root / "dovecot.log")
        context = ssl.create_default_context()
        tls_ca.configure_trust(context)
        yield ImapServer("localhost", port, tls_port, root, context)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(root, ignore_errors=True)
