"""Django's own password hashes, signatures and session auth hashes, for
the comparison in tests/tests/behaviour/django_auth.rs.

Reads one JSON object a line and answers one a line:
- {"hash": hasher, "password", "salt", "params"}: Django's encoded hash;
- {"sign": value, "salt", "keys": [current, fallbacks...], "theirs": signed
  by the Rust side}: what Django's `dumps` writes with the current key and
  with the last key alone, and what its `loads` reads from the Rust side's
  (or an error);
- {"session_hash": password_field, "secret"}: the session auth hash;
- {"csrf": [[stored, token], ...], "secret"}: Django's verdict on each pair,
  and a token Django masks from the secret.
"""

import json
import sys

import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
    SECRET_KEY="replaced per case",
)
django.setup()

from django.contrib.auth import hashers  # noqa: E402
from django.core import signing  # noqa: E402
from django.middleware import csrf  # noqa: E402
from django.utils.crypto import salted_hmac  # noqa: E402

HASHERS = {
    "pbkdf2_sha256": hashers.PBKDF2PasswordHasher,
    "pbkdf2_sha1": hashers.PBKDF2SHA1PasswordHasher,
    "argon2": hashers.Argon2PasswordHasher,
    "bcrypt_sha256": hashers.BCryptSHA256PasswordHasher,
    "bcrypt": hashers.BCryptPasswordHasher,
    "scrypt": hashers.ScryptPasswordHasher,
}


def encode(case):
    hasher = HASHERS[case["hash"]]()
    params = case["params"]
    password, salt = case["password"], case["salt"]
    if case["hash"].startswith("pbkdf2"):
        return hasher.encode(password, salt, iterations=params["iterations"])
    if case["hash"] == "scrypt":
        return hasher.encode(password, salt, n=params["n"], r=params["r"], p=params["p"])
    if case["hash"] == "argon2":
        hasher.time_cost = params["t"]
        hasher.memory_cost = params["m"]
        hasher.parallelism = params["p"]
        return hasher.encode(password, hasher.salt())
    hasher.rounds = params["cost"]
    return hasher.encode(password, hasher.salt())


def sign(case):
    value, salt, keys = case["sign"], case["salt"], case["keys"]
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = keys[0], keys[1:]
    ours = signing.dumps(value, salt=salt, compress=True)
    old = signing.dumps(value, key=keys[-1], salt=salt, compress=True)
    answer = {"signed": ours, "signed_with_last": old}
    try:
        answer["read"] = signing.loads(case["theirs"], salt=salt)
    except Exception as error:  # noqa: BLE001
        answer["read_error"] = type(error).__name__
    return answer


def csrf_verdict(stored, token):
    """What Django's CsrfViewMiddleware decides for a stored cookie (or
    session) value and a submitted token."""
    try:
        csrf._check_token_format(stored)
        if len(stored) == csrf.CSRF_TOKEN_LENGTH:
            stored = csrf._unmask_cipher_token(stored)
        csrf._check_token_format(token)
    except csrf.InvalidTokenFormat:
        return False
    return csrf._does_token_match(token, stored)


def check_csrf(case):
    return {
        "masked": csrf._mask_cipher_secret(case["secret"]),
        "verdicts": [csrf_verdict(stored, token) for stored, token in case["csrf"]],
    }


for line in sys.stdin:
    case = json.loads(line)
    if "hash" in case:
        answer = {"encoded": encode(case)}
    elif "sign" in case:
        answer = sign(case)
    elif "csrf" in case:
        answer = check_csrf(case)
    else:
        hash_ = salted_hmac(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
            case["session_hash"],
            secret=case["secret"],
            algorithm="sha256",
        ).hexdigest()
        answer = {"hash": hash_}
    print(json.dumps(answer), flush=True)
