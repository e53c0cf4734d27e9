from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def stats(request):
    return render(request, "callbacks/stats.html", {})
