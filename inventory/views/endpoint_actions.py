"""(being built)"""

from django.http import Http404


def suspend(request, *args, **kwargs):
    raise Http404


def terminate(request, *args, **kwargs):
    raise Http404
