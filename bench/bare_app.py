"""The floor for the callback view: a bare Django view that parses the JSON and answers 200."""

import json

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def parse_and_answer(request, token):
    events = json.loads(request.body)
    return JsonResponse({"status": "success", "received": len(events)})


settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    DATA_UPLOAD_MAX_MEMORY_SIZE=10 * 1024 * 1024,
)
urlpatterns = [path("callbacks/<str:token>/", parse_and_answer)]
application = get_wsgi_application()
