from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .models import EmailProvider


@login_required
def provider_list(request):
    providers = EmailProvider.objects.all()
    return render(request, "providers/provider_list.html", {"providers": providers})
