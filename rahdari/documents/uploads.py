"""Receiving an upload: in memory only (a plaintext document never touches the disk
before it is encrypted), capped at the size limit, and checked to have arrived whole."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import MemoryFileUploadHandler, StopUpload
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError

from rahdari.core.errors import ApplicationError
from rahdari.documents.services import refusal

# Room for the multipart boundaries and the other fields around the file.
ENVELOPE = 64 * 1024


class CappedMemoryUploadHandler(MemoryFileUploadHandler):
    """Keeps the file in memory whatever its size, and stops reading past the limit."""

    def handle_raw_input(self, *args: Any, **kwargs: Any) -> None:
        super().handle_raw_input(*args, **kwargs)
        self.activated = True
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.RAHDARI_DOCUMENT_MAX_BYTES:
            setattr(self.request, "document_too_large", True)  # noqa: B010 (an HttpRequest attribute of our own)
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)


def prepare(request: HttpRequest) -> None:
    """Before the body is parsed: refuse a declared size over the limit at once, and
    receive the file in memory. Raises the ``too_large`` refusal."""
    declared = _content_length(request)
    if declared > settings.RAHDARI_DOCUMENT_MAX_BYTES + ENVELOPE:
        raise refusal("too_large")
    if not hasattr(request, "_files"):
        request.upload_handlers = [CappedMemoryUploadHandler(request)]


def received_file(request: HttpRequest, field: str = "file") -> bytes:
    """The uploaded file's bytes, or the refusal that says why there are none: too large,
    cut off (fewer bytes arrived than the request announced), or no file chosen."""
    try:
        files = request.FILES  # parses the body
    except MultiPartParserError as exc:  # a body cut off inside its headers
        raise refusal("incomplete_upload") from exc
    if getattr(request, "document_too_large", False):
        raise refusal("too_large")
    if not _received_in_full(request):
        raise refusal("incomplete_upload")
    upload = files.get(field)
    if not isinstance(upload, UploadedFile):
        raise refusal("no_file")
    return bytes(upload.read())


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise ApplicationError("Bad Content-Length", code="bad_request") from exc


def _received_in_full(request: HttpRequest) -> bool:
    # Django reads the body through a LimitedStream that counts what it read; a client
    # that stopped half way leaves the count short of the announced Content-Length.
    stream = getattr(request, "_stream", None)
    position, limit = getattr(stream, "_pos", None), getattr(stream, "limit", None)
    if position is None or limit is None:
        return True
    return bool(position >= limit)
