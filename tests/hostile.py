"""Hostile inputs, crafted by the tests from real media: files that try to make FFmpeg read *other* files.

Each maker writes one attack file that names a "planted" media file at a path the attacker knows; the tests
prove with a plain ffprobe (no whitelist) that the attack works on FFmpeg as such, then that the converter
refuses it. No binary blobs: the media come from lavfi, the attack bytes are built here.
"""

from __future__ import annotations

import struct
from pathlib import Path

from tests.media import run_ffmpeg

MEDIA_NAMES = ("holiday.ts", "holiday.mp4", "holiday.mkv", "holiday.mp3")
"""The names an HLS playlist is uploaded under: FFmpeg picks the demuxer by content, whatever the name says."""


def make_planted(folder: Path) -> dict[str, Path]:
    """The "other user's" media an attacker aims at: ``secret.ts`` (MPEG-TS) and ``secret.mov`` (MOV, index at
    the end), 1 s of 160x120 video each."""
    folder.mkdir(parents=True, exist_ok=True)
    ts, mov = folder / "secret.ts", folder / "secret.mov"
    source = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=1"]
    run_ffmpeg(*source, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(ts))
    run_ffmpeg(*source, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mov", str(mov))
    return {"ts": ts, "mov": mov}


def hls_playlist(segment: Path) -> bytes:
    """An HLS playlist whose one segment is a local media file. FFmpeg's own checks refuse ``file:///etc/passwd``
    and ``http://`` segments, not a segment with a media extension."""
    return f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1,\n{segment}\n#EXT-X-ENDLIST\n".encode()


def ffconcat_list(name: str) -> bytes:
    """An ffconcat list; the concat demuxer's "safe" mode refuses absolute paths but reads a plain name beside
    the list (so in the same scratch folder as the list)."""
    return f"ffconcat version 1.0\nfile {name}\n".encode()


def image_sequence(folder: Path) -> Path:
    """``img001.png``…``img003.png`` and a PNG literally named ``img%03d.png``: FFmpeg's image2 demuxer takes
    that name as a pattern and reads the whole numbered sequence."""
    folder.mkdir(parents=True, exist_ok=True)
    run_ffmpeg("-f", "lavfi", "-i", "testsrc=size=32x32:rate=1:duration=3", str(folder / "img%03d.png"))
    pattern = folder / "img%03d.png"
    pattern.write_bytes((folder / "img001.png").read_bytes())
    return pattern


def _atom(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def _atoms(data: bytes) -> list[tuple[bytes, bytes]]:
    found, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        assert size >= 8, "this helper reads the plain 32-bit boxes ffmpeg writes for small files"
        found.append((kind, data[offset + 8 : offset + size]))
        offset += size
    return found


def _alias_entry(path: str, *, up: int, down: int) -> bytes:
    """A QuickTime ``alis`` data-reference entry (a classic Mac alias record), laid out as FFmpeg's
    ``mov_read_dref`` reads it: 10 bytes skipped, volume name (length + 27 bytes), 12 skipped, file name
    (length + 63 bytes), 16 skipped, ``nlvl_from`` and ``nlvl_to`` (folders up from this file, folders down
    to the target), 16 skipped, then typed records: type 2 = absolute path, type -1 = end. With
    ``enable_drefs``, FFmpeg opens ``<this file's folder>/`` + ``../`` × (up - 1) + the last ``down`` parts
    of the path."""
    name = path.rsplit("/", 1)[-1].encode()
    record = bytes(10) + bytes([0]) + bytes(27) + bytes(12) + bytes([len(name)]) + name.ljust(63, b"\0")
    record += bytes(16) + struct.pack(">HH", up, down) + bytes(16)
    encoded = path.encode()
    padded = encoded + b"\0" * (len(encoded) % 2)
    record += struct.pack(">hH", 2, len(encoded)) + padded + struct.pack(">hH", -1, 0)
    return _atom(b"alis", b"\0\0\0\0" + record)  # version and flags 0: the media is NOT in this file


def external_reference_mov(planted_mov: Path, *, up: int, down: int, path: str) -> bytes:
    """A MOV with no media of its own whose track's data reference (``moov/trak/mdia/minf/dinf/dref``) is an
    alias to ``planted_mov``: its ``ftyp`` and its ``moov`` with the self-reference (``url `` flag 1) replaced
    by the alias. The sample offsets still point into the planted file, so an FFmpeg that follows the
    reference decodes the planted picture."""

    def rewrite(data: bytes) -> bytes:
        out = b""
        for kind, body in _atoms(data):
            if kind in (b"moov", b"trak", b"mdia", b"minf", b"dinf"):
                body = rewrite(body)
            elif kind == b"dref":
                body = struct.pack(">II", 0, 1) + _alias_entry(path, up=up, down=down)
            out += _atom(kind, body)
        return out

    boxes = _atoms(planted_mov.read_bytes())
    kept = b"".join(_atom(kind, body) for kind, body in boxes if kind == b"ftyp")
    moov = b"".join(_atom(kind, body) for kind, body in boxes if kind == b"moov")
    assert moov, "the planted MOV must have its index at the end (no faststart)"
    return kept + rewrite(moov)


def huge_gif(small_gif: Path, width: int = 16000, height: int = 16000) -> bytes:
    """``small_gif`` with its logical screen claiming ``width`` x ``height`` (bytes 6-9, little-endian): a few
    kilobytes whose decoder allocates a ``width*height*4``-byte canvas for every frame."""
    data = bytearray(small_gif.read_bytes())
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def endless_gif(small_gif: Path) -> bytes:
    """``small_gif`` with every frame shown for 655.35 s (the largest GIF delay): a few kilobytes that decode
    into hours of video, which a constant-frame-rate target fills with copies of each frame."""
    data = bytearray(small_gif.read_bytes())
    offset = data.find(b"\x21\xf9\x04")  # graphic control extension: flags, delay (1/100 s, LE), transparency
    count = 0
    while offset >= 0:
        data[offset + 4 : offset + 6] = struct.pack("<H", 0xFFFF)
        count += 1
        offset = data.find(b"\x21\xf9\x04", offset + 8)
    assert count > 1, "the GIF should have several frames"
    return bytes(data)
