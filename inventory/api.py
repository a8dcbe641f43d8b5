"""(being built)"""

from django.http import Http404


def network_events(request, *args, **kwargs):
    raise Http404


def network_disconnects(request, *args, **kwargs):
    raise Http404
