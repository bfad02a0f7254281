"""What a voice note is, judged by its first bytes (no Django).

People who cannot write record their complaint on the phone: the browser's
``<input type=file accept="audio/*" capture>`` hands over whatever the phone records
(Ogg/Opus on Android, M4A/AAC on iPhones, WebM from desktop browsers, MP3 or WAV from
a recorder). The declared type and the file name are ignored.
"""

from __future__ import annotations

from typing import Final

OGG: Final = "audio/ogg"
WEBM: Final = "audio/webm"
MP3: Final = "audio/mpeg"
MP4: Final = "audio/mp4"
WAV: Final = "audio/wav"
MEDIA_TYPES: Final = (OGG, WEBM, MP3, MP4, WAV)
EXTENSIONS: Final = {OGG: "ogg", WEBM: "webm", MP3: "mp3", MP4: "m4a", WAV: "wav"}


class Refused(Exception):
    """The voice note is not accepted; ``code`` names the reason."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def sniff(data: bytes) -> str | None:
    """The audio type the first bytes announce, or None."""
    if data.startswith(b"OggS"):
        return OGG
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return WEBM
    if data.startswith(b"ID3"):
        return MP3
    # An MPEG audio frame header: 11 sync bits, then a version and layer that exist
    # (version 01 is reserved, layer 00 is reserved).
    if len(data) >= 2 and data[0] == 0xFF and (data[1] & 0xE0) == 0xE0:
        version, layer = (data[1] >> 3) & 0x03, (data[1] >> 1) & 0x03
        if version != 0x01 and layer != 0x00:
            return MP3
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return MP4
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"WAVE":
        return WAV
    return None


def check(data: bytes, *, max_bytes: int) -> str:
    """The media type of an acceptable voice note, else :class:`Refused` with
    ``empty``, ``too_large`` or ``unsupported_audio``."""
    if not data:
        raise Refused("empty")
    if len(data) > max_bytes:
        raise Refused("too_large")
    media_type = sniff(data)
    if media_type is None:
        raise Refused("unsupported_audio")
    return media_type
