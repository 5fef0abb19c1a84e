"""Django's own login redirect, for the comparison in
tests/tests/behaviour/django_redirect.rs.

Reads one JSON object a line (path, login_url, field), serves each path as
a GET to `https://shop.example` through Django's `login_required` with that
login URL and redirect field, for an anonymous user, and writes the
`Location` Django answers, one a line.
"""

import json
import sys

import django
from django.conf import settings

# No URL names: every login URL is taken as written.
urlpatterns = []

settings.configure(
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["shop.example"],
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
    SECRET_KEY="comparison-only",
)
django.setup()

from django.contrib.auth.decorators import login_required  # noqa: E402
from django.contrib.auth.models import AnonymousUser  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402


def view(request):
    return HttpResponse("ran")


factory = RequestFactory()
for line in sys.stdin:
    case = json.loads(line)
    request = factory.get(case["path"], HTTP_HOST="shop.example", secure=True)
    request.user = AnonymousUser()
    guarded = login_required(
        view, login_url=case["login_url"], redirect_field_name=case["field"]
    )
    response = guarded(request)
    print(response.get("Location", "(ran)"), flush=True)
