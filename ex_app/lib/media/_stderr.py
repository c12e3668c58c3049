"""ffmpeg's stderr: keeping a bounded tail of it, and turning it into a sentence a person understands.

Pure code (no processes), so that every known message can be tested from recorded text.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Sequence

from ..i18n import Message, _


class LineBuffer:
    """Split a byte stream into text lines, never holding more than ``max_line`` bytes of one line.

    ffmpeg ends progress and log lines with ``\\n``; some messages are redrawn with ``\\r``, so both split.
    An over-long line is cut (its start is kept) rather than buffered without end.
    """

    def __init__(self, max_line: int = 4096) -> None:
        self._max_line = max_line
        self._partial = bytearray()

    def feed(self, chunk: bytes) -> list[str]:
        lines: list[str] = []
        for piece in re.split(rb"(\r\n|\r|\n)", chunk):
            if piece in (b"\r\n", b"\r", b"\n"):
                lines.append(self._take())
            elif piece:
                room = self._max_line - len(self._partial)
                self._partial.extend(piece[: max(room, 0)])
        return lines

    def flush(self) -> list[str]:
        """The unterminated last line, if any."""
        return [self._take()] if self._partial else []

    def _take(self) -> str:
        line = self._partial.decode("utf-8", "replace")
        self._partial.clear()
        return line


class StderrTail:
    """The last ``max_lines`` lines of stderr, at most ``max_bytes`` in total: enough to explain a failure,
    bounded however much ffmpeg writes."""

    def __init__(self, max_lines: int = 40, max_bytes: int = 8192) -> None:
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._max_bytes = max_bytes
        self._size = 0
        self._splitter = LineBuffer(max_line=max_bytes)

    def feed(self, chunk: bytes) -> None:
        for line in self._splitter.feed(chunk):
            self._add(line)

    def close(self) -> None:
        for line in self._splitter.flush():
            self._add(line)

    def _add(self, line: str) -> None:
        if not line.strip():
            return
        if len(self._lines) == self._lines.maxlen:
            self._size -= len(self._lines[0])
        self._lines.append(line)
        self._size += len(line)
        while self._size > self._max_bytes and len(self._lines) > 1:
            self._size -= len(self._lines.popleft())

    @property
    def lines(self) -> list[str]:
        return list(self._lines)

    @property
    def text(self) -> str:
        return "\n".join(self._lines)


EMPTY_FILE = _("This file is empty: there is nothing in it to convert.")
NOT_MEDIA = _("This is not a video or audio file.")
TRUNCATED = _(
    "This video file is incomplete (cut off before its end), which usually means the recording or the upload "
    "was interrupted."
)
NOT_ACCEPTED = _(
    "This is not a video file the converter accepts. It reads video and audio files such as MP4, MOV, MKV, "
    "WebM, AVI, MPEG, WMV and MP3, but not playlists, image sequences or other files that refer to further files."
)
OUT_OF_MEMORY = _(
    "Converting this video needed more memory than the converter may use; a smaller picture size may work."
)
INVALID_DATA = _(
    "This file is not a video or audio file FFmpeg can read, or it is damaged "
    "(Invalid data found when processing input)."
)
EXTERNAL_REFERENCE = _(
    "This video refers to pictures or sound kept in other files, which the converter does not read. Export it "
    "as a self-contained movie and try again."
)

# (substring as ffmpeg prints it, what we tell the person). First match in this order wins, so the most
# specific cause comes first.
KNOWN_FAILURES: tuple[tuple[str, str], ...] = (
    # "Format not on whitelist" / "Protocol 'http' not on whitelist 'file'": see _process.INPUT_FORMATS.
    ("not on whitelist", NOT_ACCEPTED),
    # The MP4 index is written last, so a cut-off MP4 has none. (A file that is not an MP4 at all but is
    # named like one gets the same message from FFmpeg; explain_failure tells them apart by the file's start.)
    ("moov atom not found", TRUNCATED),
    ("No space left on device", _("The server ran out of disk space while converting this file.")),
    # Allocations refused by the memory ceiling (_process.ProcessLimits): FFmpeg's, x265's and libvpx's words.
    ("Cannot allocate memory", OUT_OF_MEMORY),
    ("malloc of size", OUT_OF_MEMORY),
    ("Failed to allocate", OUT_OF_MEMORY),
    ("Invalid data found when processing input", INVALID_DATA),
    ("No such file or directory", _("The file to convert could not be found on the server.")),
    ("Permission denied", _("The server was not allowed to read or write this file.")),
    ("Decoder (codec", _("This file uses a format that FFmpeg on this server cannot decode.")),
    ("no decoder found", _("This file uses a format that FFmpeg on this server cannot decode.")),
    ("Could not find codec parameters", _("FFmpeg could not work out the format of a track in this file.")),
    (
        "codec not currently supported in container",
        _("A track in this file cannot be stored in the chosen format; try converting into MKV or MP4 instead."),
    ),
    ("does not contain any stream", _("This file has no track that can be converted.")),
    (
        "Error while opening encoder",
        _(
            "FFmpeg could not set up the encoder for this file (its picture size, frame rate or sample rate may be "
            "unusual)."
        ),
    ),
    ("Too many packets buffered", _("The tracks in this file are badly interleaved; FFmpeg could not convert it.")),
)

# Lines that never explain anything on their own.
_NOISE = re.compile(
    r"^(Conversion failed!|Exiting normally.*|Last message repeated \d+ times|Error closing file.*"
    r"|Error while filtering: .*|Failed to inject frame into filter network.*|Error marking filters as finished"
    r"|Nothing was written into output file.*)$",
    re.IGNORECASE,
)
_COMPONENT = re.compile(r"^\[[^\]]*@ ?(0x)?[0-9a-f]+\]\s*", re.IGNORECASE)
_MAX_MESSAGE = 300


# How the containers of _process.INPUT_FORMATS begin (offset, bytes): a file starting like none of them is not
# a damaged video but something else altogether. ISO media (MP4/MOV) starts with a box: a size, then its type.
_ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"styp", b"sidx", b"moof")
_MAGIC: tuple[tuple[int, bytes], ...] = (
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM (EBML)
    (0, b"RIFF"),  # AVI, WAV
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"),  # ASF / WMV
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
    (0, b"OggS"),
    (0, b"FLV"),
    (0, b"fLaC"),
    (0, b"ID3"),  # MP3 with a tag
    (0, b"GIF8"),
    (0, b"FORM"),  # AIFF
    (0, b"\x06\x0e\x2b\x34"),  # MXF
)


def looks_like_media(head: bytes) -> bool:
    """True when ``head`` (a file's first bytes) starts like one of the containers the converter reads.

    A guess used only to choose between "damaged" and "not a video" for a file FFmpeg already refused.
    """
    if len(head) >= 8 and head[4:8] in _ISO_BOXES:
        return True
    if any(head[offset : offset + len(magic)] == magic for offset, magic in _MAGIC):
        return True
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return True  # an MPEG audio or ADTS AAC frame header
    # MPEG transport stream: a 0x47 sync byte every 188 bytes (192 in Blu-ray/AVCHD .m2ts).
    return any(len(head) > 3 * step + skip and all(head[skip + k * step] == 0x47 for k in range(4))
               for step, skip in ((188, 0), (192, 4)))  # fmt: skip


def explain_failure(
    lines: Sequence[str], *, paths: Iterable[str] = (), returncode: int | None = None, head: bytes | None = None
) -> str:
    """One readable sentence for a failed ffmpeg/ffprobe run, from its last stderr ``lines``.

    Known causes become a fixed sentence; otherwise the last meaningful lines are quoted, with ffmpeg's
    ``[component @ 0x…]`` prefixes, repeated lines and our own scratch ``paths`` removed (a user must not see
    server paths). ``head``, the input file's first bytes when known, tells a damaged video from a file that
    is no video at all when FFmpeg's complaint fits both.
    """
    for needle, sentence in KNOWN_FAILURES:
        if any(needle.lower() in line.lower() for line in lines):
            if sentence in (TRUNCATED, INVALID_DATA) and head is not None and not looks_like_media(head):
                return NOT_MEDIA
            return sentence
    meaningful = _meaningful(lines, sorted(set(paths), key=len, reverse=True))
    if meaningful:
        detail = "; ".join(meaningful[-2:])
        if len(detail) > _MAX_MESSAGE:
            detail = detail[: _MAX_MESSAGE - 1] + "…"
        return Message(_("FFmpeg could not convert this file: {detail}"), detail=detail)
    if returncode is not None and returncode < 0:
        return Message(
            _("FFmpeg was stopped by the system (signal {signal}), perhaps because the server ran out of memory."),
            signal=-returncode,
        )
    return _("FFmpeg stopped with an error but did not say why.")


def _meaningful(lines: Sequence[str], paths: Sequence[str]) -> list[str]:
    kept: list[str] = []
    for raw in lines:
        line = _COMPONENT.sub("", raw.strip())
        for path in paths:
            line = line.replace("file:" + path, "").replace(path, "")
        line = line.strip().lstrip(":").strip()
        if not line or _NOISE.match(line) or (kept and kept[-1] == line):
            continue
        kept.append(line)
    return kept
