"""Language choice: ?lang= → the user's profile → the cookie → Accept-Language.

An explicit ?lang= also becomes the logged-in user's preferred language, so the
SMS they receive follow the language they read the site in.
"""

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

    def _choose(self, request: HttpRequest, asked: str | None) -> str:
        if asked in SUPPORTED:
            return str(asked)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.preferred_language in SUPPORTED:
            return str(user.preferred_language)
        chosen = translation.get_language_from_request(request)
        return chosen if chosen in SUPPORTED else settings.LANGUAGE_CODE

    def __call__(self, request: HttpRequest) -> HttpResponse:
        asked = request.GET.get("lang")
        unknown = asked[:20] if asked is not None and asked not in SUPPORTED else None
        chosen = self._choose(request, asked)
        user = getattr(request, "user", None)
        if asked in SUPPORTED and user is not None and user.is_authenticated:
            from rahdari.accounts.services import user_set_language

            user_set_language(user=user, language=chosen)
        request.unknown_language = unknown  # type: ignore[attr-defined]
        request.LANGUAGE_CODE = chosen
        translation.activate(chosen)
        try:
            if unknown and request.path.startswith("/api/"):
                response: HttpResponse = JsonResponse(
                    error_body(
                        "unknown_language",
                        translation.gettext("This language is not available. Use en, ur or ps."),
                        {"lang": ["en, ur, ps"]},
                    ),
                    status=400,
                )
            else:
                response = self.get_response(request)
        finally:
            translation.deactivate()
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
        return response
