"""(being built)"""

from django.http import Http404


def endpoint_list(request, *args, **kwargs):
    raise Http404


def endpoint_export(request, *args, **kwargs):
    raise Http404
