"""Type files by their content, not their name.

A user may send ``photo.txt`` that is really a PNG, or ``notes.png`` that is text;
the bytes decide. Only formats the experts can read are recognised; anything else
is reported as unsupported by the caller with the file's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.types import ResourceKind


@dataclass(frozen=True)
class Sniffed:
    kind: ResourceKind
    mime: str
    suffix: str


_MAGIC: list[tuple[int, bytes, Sniffed]] = [
    (0, b"\x89PNG\r\n\x1a\n", Sniffed("image", "image/png", ".png")),
    (0, b"\xff\xd8\xff", Sniffed("image", "image/jpeg", ".jpg")),
    (0, b"GIF87a", Sniffed("image", "image/gif", ".gif")),
    (0, b"GIF89a", Sniffed("image", "image/gif", ".gif")),
    (0, b"II*\x00", Sniffed("image", "image/tiff", ".tif")),
    (0, b"MM\x00*", Sniffed("image", "image/tiff", ".tif")),
    (0, b"fLaC", Sniffed("audio", "audio/flac", ".flac")),
    (0, b"OggS", Sniffed("audio", "audio/ogg", ".ogg")),
    (0, b"\x1a\x45\xdf\xa3", Sniffed("video", "video/webm", ".webm")),
    (0, b"%PDF-", Sniffed("image", "application/pdf", ".pdf")),
]


def sniff(data: bytes) -> Sniffed | None:
    """The kind of ``data`` by its first bytes, or None when unsupported."""
    head = data[:64]
    if head[:4] == b"RIFF" and len(head) >= 12:
        form = head[8:12]
        if form == b"WAVE":
            return Sniffed("audio", "audio/wav", ".wav")
        if form == b"WEBP":
            return Sniffed("image", "image/webp", ".webp")
        if form == b"AVI ":
            return Sniffed("video", "video/x-msvideo", ".avi")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return Sniffed("audio", "audio/mp4", ".m4a")
        if brand == b"qt  ":
            return Sniffed("video", "video/quicktime", ".mov")
        return Sniffed("video", "video/mp4", ".mp4")
    if _is_mpeg_audio(head):
        return Sniffed("audio", "audio/mpeg", ".mp3")
    if head[:2] == b"BM" and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return Sniffed("image", "image/bmp", ".bmp")
    for offset, magic, found in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            if found.mime == "application/pdf":
                return None  # documents as PDF need a renderer we do not ship; say so
            return found
    if _looks_like_text(data[:4096]):
        return Sniffed("text", "text/plain", ".txt")
    return None


_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}


def _is_mpeg_audio(head: bytes) -> bool:
    """An ID3 tag (with a real version byte) or an MPEG audio frame header; two or three
    magic bytes alone would also match text that starts with "ID3" or "BM"."""
    if head[:3] == b"ID3":
        return len(head) >= 5 and head[3] in (2, 3, 4) and head[4] != 0xFF
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0 or head[:3] == b"\xff\xd8\xff":
        return False
    layer = (head[1] >> 1) & 0x3
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 0x3
    return layer != 0 and bitrate not in (0x0, 0xF) and rate != 0x3


def _looks_like_text(sample: bytes) -> bool:
    if not sample or b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # a cut multi-byte char at the end is fine
            return False
    return True
