"""Views for "Send test email" and "Test connection" (being built)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404


@login_required
def send_test_email(request, pk):
    raise Http404


@login_required
def test_email_detail(request, pk):
    raise Http404


@login_required
def test_email_status(request, pk):
    raise Http404


@login_required
def test_connection(request):
    raise Http404
