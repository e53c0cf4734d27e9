from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from .models import Profile


@login_required
def profile_list(request):
    profiles = Profile.objects.all()[:50]
    return render(request, "profiles/profile_list.html", {"profiles": profiles})


def preferences(request, token):
    raise Http404


def one_click_unsubscribe(request, token):
    raise Http404
