"""Pages Django rendered with its CSRF token, for the comparison in
tests/tests/behaviour/django_csrf.rs.

argv: the SQLite file, SECRET_KEY, "cookie" or "session" (CSRF_USE_SESSIONS),
then the number of pages. Migrates, makes alice, logs her in through
Django's test client (enforcing CSRF), and for each page GETs a view that
renders `{% csrf_token %}` in a form; writes
{"id", "session", "csrftoken" (the cookie, or null with CSRF_USE_SESSIONS),
"pages": [html], "accepted": [status of Django's own POST of each page's
token], "refused": status of Django's POST without one}.
"""

import json
import sys

import django
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2(PBKDF2PasswordHasher):
    """Django's default format at a test's cost."""

    iterations = 1000


settings.configure(
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1]}},
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
    ROOT_URLCONF=__name__,
    PASSWORD_HASHERS=["__main__.FastPBKDF2"],
    SECRET_KEY=sys.argv[2],
    SESSION_ENGINE="django.contrib.sessions.backends.db",
    CSRF_USE_SESSIONS=sys.argv[3] == "session",
    ALLOWED_HOSTS=["testserver"],
    USE_TZ=True,
)
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.template import engines  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402

FORM = engines["django"].from_string('<form method="post">{% csrf_token %}</form>')


def form(request):
    if request.method == "POST":
        return HttpResponse("posted")
    return HttpResponse(FORM.render({}, request))


urlpatterns = [path("form", form)]

call_command("migrate", verbosity=0)
user = User.objects.create_user("alice", password="alice pw")
client = Client(enforce_csrf_checks=True)
assert client.login(username="alice", password="alice pw")
pages, accepted = [], []
for _ in range(int(sys.argv[4])):
    html = client.get("/form").content.decode()
    pages.append(html)
    token = html.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    accepted.append(client.post("/form", {"csrfmiddlewaretoken": token}).status_code)
cookie = client.cookies.get("csrftoken")
print(json.dumps({
    "id": str(user.pk),
    "session": client.cookies["sessionid"].value,
    "csrftoken": cookie.value if cookie else None,
    "pages": pages,
    "accepted": accepted,
    "refused": client.post("/form", {}).status_code,
}))
