"""The bounce mailbox: bounces and complaints read over IMAP for SMTP and Gmail providers.

`reader` turns one returned message into events (DSN, ARF, non-standard bounces), `client`
opens the IMAP connection through the provider-host policy, `poller` reads new messages by
UID into the callback inbox, and `format` is the body the inbox stores for them.
"""
