"""Changes a Django site's auth state the way its admin or a shell does
(the ORM, Django's logout, django-guardian's shortcuts), one command at a
time, for the exact-cache test in tests/tests/behaviour/django_cache.rs.

argv: the database as JSON ({"engine": "sqlite", "name": path} or
{"engine": "postgres", "name", "user", "host", "port"}), SECRET_KEY.
Reads one JSON list per line from stdin, a command and its arguments,
and answers one JSON line when the change has committed:
- ["setup"]: migrates (contenttypes, auth, sessions, guardian), makes the
  users alice and bob, the group "viewers" holding auth.view_group, logs
  both in through Django's test client; answers {"alice": {"id",
  "cookie"}, "bob": {...}, "object": the viewers group's pk};
- ["grant", user, codename] / ["revoke", user, codename]: a direct
  permission;
- ["join", user, group] / ["leave", user, group];
- ["group_revoke", group, codename] / ["group_grant", group, codename];
- ["object_grant", user, perm, group] / ["object_revoke", user, perm,
  group]: django-guardian's assign_perm / remove_perm on a group as the
  object;
- ["active", user, true|false]; ["password", user, new];
- ["logout", cookie]: Django's logout of that session;
- ["login", user]: a new login through Django's test client; answers its
  session cookie.
"""

import json
import sys

import django
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2(PBKDF2PasswordHasher):
    """Django's default format at a test's cost."""

    iterations = 1000


database = json.loads(sys.argv[1])
if database["engine"] == "sqlite":
    default = {"ENGINE": "django.db.backends.sqlite3", "NAME": database["name"]}
else:
    default = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database["name"],
        "USER": database["user"],
        "HOST": database["host"],
        "PORT": database["port"],
    }

settings.configure(
    DATABASES={"default": default},
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
        "guardian",
    ],
    AUTHENTICATION_BACKENDS=[
        "django.contrib.auth.backends.ModelBackend",
        "guardian.backends.ObjectPermissionBackend",
    ],
    PASSWORD_HASHERS=["__main__.FastPBKDF2"],
    SECRET_KEY=sys.argv[2],
    SESSION_ENGINE="django.contrib.sessions.backends.db",
    USE_TZ=True,
)
django.setup()

from django.contrib.auth.models import Group, Permission, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from guardian.shortcuts import assign_perm, remove_perm  # noqa: E402


def user(name):
    return User.objects.get(username=name)


def perm(codename):
    return Permission.objects.get(codename=codename)


def setup():
    call_command("migrate", verbosity=0)
    viewers = Group.objects.create(name="viewers")
    viewers.permissions.add(perm("view_group"))
    out = {"object": str(viewers.pk)}
    for name in ["alice", "bob"]:
        made = User.objects.create_user(name, password=f"{name} pw")
        client = Client()
        assert client.login(username=name, password=f"{name} pw")
        out[name] = {"id": str(made.pk), "cookie": client.cookies["sessionid"].value}
    return out


def login(name):
    client = Client()
    assert client.login(username=name, password=f"{name} pw")
    return client.cookies["sessionid"].value


def logout(cookie):
    client = Client()
    client.cookies["sessionid"] = cookie
    client.logout()


def active(name, on):
    who = user(name)
    who.is_active = on
    who.save()


def password(name, new):
    who = user(name)
    who.set_password(new)
    who.save()


COMMANDS = {
    "setup": setup,
    "grant": lambda name, code: user(name).user_permissions.add(perm(code)),
    "revoke": lambda name, code: user(name).user_permissions.remove(perm(code)),
    "join": lambda name, group: user(name).groups.add(Group.objects.get(name=group)),
    "leave": lambda name, group: user(name).groups.remove(Group.objects.get(name=group)),
    "group_grant": lambda group, code: Group.objects.get(name=group).permissions.add(perm(code)),
    "group_revoke": lambda group, code: Group.objects.get(name=group).permissions.remove(
        perm(code)
    ),
    "object_grant": lambda name, p, group: assign_perm(p, user(name), Group.objects.get(name=group)),
    "object_revoke": lambda name, p, group: remove_perm(p, user(name), Group.objects.get(name=group)),
    "active": active,
    "password": password,
    "logout": logout,
    "login": login,
}

for line in sys.stdin:
    command, *args = json.loads(line)
    answer = COMMANDS[command](*args)
    print(json.dumps(answer if command in ("setup", "login") else None), flush=True)
