"""A Django site's logins, made by Django itself, for the comparison in
tests/tests/behaviour/django_sessions.rs.

argv: the SQLite file, SECRET_KEY, then a command (the session engine is
`db`, or PERMIT_SESSION_ENGINE's: `signed_cookies`, or `cached_db` with its
cache in Redis at PERMIT_REDIS_URL under KEY_PREFIX PERMIT_KEY_PREFIX):
- setup: migrates, makes alice (auth.view_group), bob and carol, logs each
  in through Django's test client (the `db` session engine) and writes
  {name: {"id", "cookie"}};
- logout COOKIE: Django's logout of that session;
- password NAME NEW: Django's set_password;
- exists COOKIE: whether the session's row is there;
- whois COOKIE: who Django's get_user says the session is, and whether
  their last_login is set, and the session's "note";
- note COOKIE TEXT: stores TEXT in the session as "note", writes the
  session's cookie afterwards (a signed cookie changes with its data);
- aged NAME DAYS: a session of NAME's signed DAYS days ago, as its cookie;
- cached COOKIE: whether the cache holds the session (`cached_db`);
- forget COOKIE...: deletes the sessions' cached copies (a test's cleanup).
"""

import json
import os
import sys

import django
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2(PBKDF2PasswordHasher):
    """Django's default format at a test's cost."""

    iterations = 1000


engine = os.environ.get("PERMIT_SESSION_ENGINE", "db")
caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if engine == "cached_db":
    caches = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["PERMIT_REDIS_URL"],
        "KEY_PREFIX": os.environ["PERMIT_KEY_PREFIX"],
    }}

settings.configure(
    CACHES=caches,
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1]}},
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
    ],
    PASSWORD_HASHERS=["__main__.FastPBKDF2"],
    SECRET_KEY=sys.argv[2],
    SESSION_ENGINE="django.contrib.sessions.backends." + engine,
    USE_TZ=True,
)
django.setup()

from django.contrib.auth.models import Permission, User  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

command = sys.argv[3]
if command == "setup":
    call_command("migrate", verbosity=0)
    out = {}
    for name in ["alice", "bob", "carol"]:
        user = User.objects.create_user(name, password=f"{name} pw")
        if name == "alice":
            user.user_permissions.add(Permission.objects.get(codename="view_group"))
        client = Client()
        assert client.login(username=name, password=f"{name} pw")
        out[name] = {"id": str(user.pk), "cookie": client.cookies["sessionid"].value}
    print(json.dumps(out))
elif command == "logout":
    client = Client()
    client.cookies["sessionid"] = sys.argv[4]
    client.logout()
elif command == "password":
    user = User.objects.get(username=sys.argv[4])
    user.set_password(sys.argv[5])
    user.save()
elif command == "cached":
    from importlib import import_module

    from django.core.cache import cache

    store = import_module(settings.SESSION_ENGINE).SessionStore(sys.argv[4])
    print(json.dumps(cache.get(store.cache_key) is not None))
elif command == "forget":
    from importlib import import_module

    from django.core.cache import cache

    store = import_module(settings.SESSION_ENGINE).SessionStore
    cache.delete_many([store(key).cache_key for key in sys.argv[4:]])
elif command == "exists":
    print(json.dumps(Session.objects.filter(session_key=sys.argv[4]).exists()))
elif command == "whois":
    from importlib import import_module

    from django.contrib.auth import get_user
    from django.http import HttpRequest

    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(sys.argv[4])
    user = get_user(request)
    print(json.dumps({
        "username": user.get_username() or "anonymous",
        "last_login": bool(getattr(user, "last_login", None)),
        "note": request.session.get("note"),
    }))
elif command in ("note", "aged"):
    import time
    from importlib import import_module
    from unittest import mock

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore
    if command == "note":
        session = store(sys.argv[4])
        session["note"] = sys.argv[5]
        session.save()
    else:
        user = User.objects.get(username=sys.argv[4])
        session = store()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        then = time.time() - float(sys.argv[5]) * 86400
        with mock.patch("time.time", return_value=then):
            session.save()
    print(session.session_key)
