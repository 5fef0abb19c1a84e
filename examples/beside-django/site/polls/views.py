from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST


def whoami(request):
    """Who Django says this session is, with what Django grants, and the
    session's note: what the Rust API's /api/me answers, from Django's side."""
    user = request.user
    return JsonResponse({
        "username": user.get_username() if user.is_authenticated else None,
        "permissions": sorted(user.get_all_permissions()) if user.is_authenticated else [],
        "note": request.session.get("note"),
    })


@login_required
def me(request):
    """The Rust API's /api/me, written in Django: the throughput baseline."""
    user = request.user
    return JsonResponse({
        "id": user.pk,
        "username": user.get_username(),
        "is_superuser": user.is_superuser,
        "permissions": sorted(user.get_all_permissions()),
    })


@login_required
def new_question(request):
    """A page Django renders whose form posts to the Rust API, with
    Django's CSRF token."""
    return render(request, "polls/new.html", {"api": settings.RUST_API_URL})


@require_POST
def note(request):
    """Keeps a note in the session (any text, non-ASCII included)."""
    request.session["note"] = request.POST.get("note", "")
    return JsonResponse({"note": request.session["note"]})
