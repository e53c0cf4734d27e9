"""Provider forms, one module per kind on the shared base (`base.ProviderForm`).

Adding an ESP: one module with a `ProviderForm` subclass and one entry in `FORMS`.
"""

from providers.models import EmailProvider

from .base import ProviderForm
from .gmail import GmailProviderForm
from .mailgun import MailgunProviderForm
from .netcore import NetcoreProviderForm
from .postmark import PostmarkProviderForm
from .sendgrid import SendGridProviderForm
from .ses import SesProviderForm
from .smtp import SmtpProviderForm

FORMS: dict[str, type[ProviderForm]] = {
    EmailProvider.Kind.SMTP: SmtpProviderForm,
    EmailProvider.Kind.GMAIL: GmailProviderForm,
    EmailProvider.Kind.SENDGRID: SendGridProviderForm,
    EmailProvider.Kind.NETCORE: NetcoreProviderForm,
    EmailProvider.Kind.POSTMARK: PostmarkProviderForm,
    EmailProvider.Kind.SES: SesProviderForm,
    EmailProvider.Kind.MAILGUN: MailgunProviderForm,
}


def form_for(kind: str) -> type[ProviderForm]:
    """The form of one kind; KeyError for a kind Postdesk does not know."""
    return FORMS[kind]
