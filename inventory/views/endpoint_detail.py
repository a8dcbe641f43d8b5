"""(being built)"""

from django.http import Http404


def overview(request, *args, **kwargs):
    raise Http404


def ip_addresses(request, *args, **kwargs):
    raise Http404


def history(request, *args, **kwargs):
    raise Http404
