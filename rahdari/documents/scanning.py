"""The virus-scan hook: a :class:`Scanner` looks at a file's bytes before it is stored.

With ``RAHDARI_CLAMAV_SOCKET`` set (e.g. ``/run/clamav/clamd.ctl``), files go to the
ClamAV daemon over its UNIX socket with the INSTREAM command; an infected file is
refused. When the setting is empty, or the daemon cannot be reached, the version is
stored and recorded as not scanned (``unavailable`` when a daemon was expected), so
that an officer sees it and the file can be scanned later. docs/documents.md.
"""

from __future__ import annotations

import logging
import socket
import struct
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

CLEAN = "clean"
INFECTED = "infected"
NOT_SCANNED = "not_scanned"
UNAVAILABLE = "unavailable"
CHUNK = 64 * 1024


@dataclass(frozen=True)
class ScanResult:
    status: str  # clean, infected, not_scanned or unavailable
    detail: str = ""  # the scanner's name, or the signature it found


class Scanner(Protocol):
    def scan(self, data: bytes) -> ScanResult: ...


class NoScanner:
    """No scanner installed: every file is recorded as not scanned."""

    def scan(self, data: bytes) -> ScanResult:
        return ScanResult(NOT_SCANNED)


class ClamdScanner:
    """ClamAV's clamd over its UNIX socket (the INSTREAM command of clamd(8)): the file
    in length-prefixed chunks, then a zero length; the answer is ``stream: OK`` or
    ``stream: <signature> FOUND``."""

    def __init__(self, path: str, *, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout

    def scan(self, data: bytes) -> ScanResult:
        try:
            reply = self._instream(data)
        except OSError as exc:
            logger.warning("ClamAV could not be reached (%s): file not scanned", type(exc).__name__)
            return ScanResult(UNAVAILABLE, "clamav unreachable")
        if reply.endswith(" FOUND"):
            signature = reply.removeprefix("stream:").removesuffix(" FOUND").strip()
            return ScanResult(INFECTED, signature[:80])
        if reply.endswith(": OK"):
            return ScanResult(CLEAN, "clamav")
        # "INSTREAM size limit exceeded. ERROR" and the like: the daemon did not judge it.
        logger.warning("ClamAV answered with an error: file not scanned")
        return ScanResult(UNAVAILABLE, "clamav error")

    def _instream(self, data: bytes) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(self.timeout)
            conn.connect(self.path)
            conn.sendall(b"zINSTREAM\0")
            view = memoryview(data)
            for start in range(0, len(view), CHUNK):
                chunk = view[start : start + CHUNK]
                conn.sendall(struct.pack("!L", len(chunk)) + bytes(chunk))
            conn.sendall(struct.pack("!L", 0))
            answer = b""
            while not answer.endswith(b"\0"):
                part = conn.recv(4096)
                if not part:
                    break
                answer += part
        return answer.rstrip(b"\0").decode("utf-8", "replace").strip()


def scanner() -> Scanner:
    path = settings.RAHDARI_CLAMAV_SOCKET
    return ClamdScanner(path) if path else NoScanner()
