"""A Django site's auth state, made by Django itself, for the comparison in
tests/tests/behaviour/django_backend.rs.

Reads one JSON spec from stdin (users with flags and passwords, groups,
memberships, user and group permissions, django-guardian grants on groups
as objects), builds it with Django's ORM in the fresh database argv[1]
names (JSON: {"engine": "sqlite", "name": path} or {"engine": "postgres",
"name", "user", "host", "port"}; migrations of contenttypes, auth and
guardian), and writes what
Django answers: per user, their permissions, their object permissions on
each group, the groups they may change, whether a login with the right
and a wrong password succeeds, and the session auth hash.
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
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "guardian"],
    AUTHENTICATION_BACKENDS=[
        "django.contrib.auth.backends.ModelBackend",
        "guardian.backends.ObjectPermissionBackend",
    ],
    PASSWORD_HASHERS=["__main__.FastPBKDF2"],
    SECRET_KEY=sys.argv[2],
    USE_TZ=True,
)
django.setup()

from django.contrib.auth import authenticate  # noqa: E402
from django.contrib.auth.models import Group, Permission, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from guardian.shortcuts import (  # noqa: E402
    assign_perm,
    get_group_perms,
    get_objects_for_user,
    get_user_perms,
)

call_command("migrate", verbosity=0)
spec = json.load(sys.stdin)

perms = list(Permission.objects.select_related("content_type").order_by("id"))
group_perms = [p for p in perms if p.content_type.model == "group"]


def name(perm):
    return f"{perm.content_type.app_label}.{perm.codename}"


groups = [Group.objects.create(name=f"group {i}") for i in range(spec["groups"])]
users = []
for i, user in enumerate(spec["users"]):
    made = User.objects.create_user(f"user{i}", password=user["password"])
    made.is_active = user["active"]
    made.is_superuser = user["superuser"]
    made.save()
    users.append(made)
for u, g in spec["memberships"]:
    users[u].groups.add(groups[g])
for u, p in spec["user_perms"]:
    users[u].user_permissions.add(perms[p % len(perms)])
for g, p in spec["group_perms"]:
    groups[g].permissions.add(perms[p % len(perms)])
for u, p, o in spec["user_objects"]:
    assign_perm(group_perms[p % len(group_perms)], users[u], groups[o])
for g, p, o in spec["group_objects"]:
    assign_perm(group_perms[p % len(group_perms)], groups[g], groups[o])

answer = {"all_perms": sorted(name(p) for p in perms), "users": []}
for i, user in enumerate(spec["users"]):
    made = User.objects.get(username=f"user{i}")
    stored = Permission.objects.filter(user=made) | Permission.objects.filter(group__user=made)
    answer["users"].append({
        "id": str(made.pk),
        "username": made.username,
        "active": made.is_active,
        "superuser": made.is_superuser,
        "password_field": made.password,
        "stored": sorted({name(p) for p in stored.select_related("content_type")}),
        "has": sorted(p for p in answer["all_perms"] if made.has_perm(p)),
        "on_objects": {
            str(g.pk): sorted({f"auth.{c}" for c in get_user_perms(made, g)}
                              | {f"auth.{c}" for c in get_group_perms(made, g)})
            for g in groups
        },
        "may_change": sorted(str(g.pk) for g in get_objects_for_user(
            made, "auth.change_group", with_superuser=False, accept_global_perms=False)),
        "login": authenticate(username=made.username, password=user["password"]) is not None,
        "wrong_login": authenticate(username=made.username, password=user["password"] + "x")
        is not None,
        "session_hash": made.get_session_auth_hash(),
    })
print(json.dumps(answer))
