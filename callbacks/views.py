from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt

from providers.models import EmailProvider

from .models import SoftBouncePolicy


@csrf_exempt
def receive(request, token):
    get_object_or_404(EmailProvider, callback_token=token)
    return HttpResponseNotAllowed(["POST", "HEAD"])


@staff_member_required
def soft_bounce_policy(request):
    return render(request, "callbacks/policy.html", {"policy": SoftBouncePolicy.current()})
