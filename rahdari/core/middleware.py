"""Language choice: ?lang= → the user's profile → the cookie → Accept-Language."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers

from rahdari.core.errors import error_body

SUPPORTED = {code for code, _name in settings.LANGUAGES}


class LanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        asked = request.GET.get("lang")
        chosen: str | None = None
        request.unknown_language = None  # type: ignore[attr-defined]
        if asked is not None:
            if asked in SUPPORTED:
                chosen = asked
            else:
                request.unknown_language = asked[:20]  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if chosen is None and user is not None and user.is_authenticated:
            chosen = user.preferred_language if user.preferred_language in SUPPORTED else None
        if chosen is None:
            chosen = translation.get_language_from_request(request)
            if chosen not in SUPPORTED:
                chosen = settings.LANGUAGE_CODE
        if asked in SUPPORTED and user is not None and user.is_authenticated:
            from rahdari.accounts.services import user_set_language

            user_set_language(user=user, language=chosen)
        translation.activate(chosen)
        request.LANGUAGE_CODE = chosen  # type: ignore[attr-defined]
        if request.unknown_language and request.path.startswith("/api/"):  # type: ignore[attr-defined]
            response: HttpResponse = JsonResponse(
                error_body(
                    "unknown_language",
                    translation.gettext("This language is not available. Use en, ur or ps."),
                    {"lang": ["en, ur, ps"]},
                ),
                status=400,
            )
            translation.deactivate()
            return response
        response = self.get_response(request)
        if asked in SUPPORTED:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                chosen,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        response.headers.setdefault("Content-Language", chosen)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        translation.deactivate()
        return response
