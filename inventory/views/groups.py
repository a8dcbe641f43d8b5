"""(being built)"""

from django.http import Http404


def group_list(request, *args, **kwargs):
    raise Http404
