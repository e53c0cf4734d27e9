from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from .models import EmailProvider


@login_required
def provider_list(request):
    providers = EmailProvider.objects.all()
    return render(request, "providers/provider_list.html", {"providers": providers})


@login_required
def provider_choose_kind(request):
    raise Http404


@login_required
def provider_create(request, kind):
    raise Http404


@login_required
def provider_detail(request, pk):
    raise Http404


@login_required
def provider_edit(request, pk):
    raise Http404


@login_required
def provider_delete(request, pk):
    raise Http404


@login_required
def provider_mark_default(request, pk):
    raise Http404


@login_required
def provider_rotate_callback(request, pk):
    raise Http404
