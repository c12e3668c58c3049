"""Naming the output and resolving "compress (same format)" to a concrete container: pure, from the source name.

The Nextcloud gateway adds `` (1)``, `` (2)`` … when the chosen name is taken; nothing here looks at folders.
"""

from __future__ import annotations

import dataclasses
from pathlib import PurePosixPath

from .probe import MediaInfo
from .targets import TARGETS, Target

_SAME_FORMAT: dict[str, str] = {
    "mp4": "mp4",
    "m4v": "m4v",
    "mov": "mov",
    "qt": "mov",
    "webm": "webm",
    "mkv": "mkv",
    "avi": "avi",
}
"""Source extension → the target whose container and usual codecs "compress" re-encodes into."""
_FALLBACK = "mp4"
"""Anything else (FLV, WMV, MPEG-TS, 3GP …) is compressed into MP4: the one format every device plays."""


def source_extension(source_name: str) -> str:
    """``"Clip.Final.MOV"`` → ``"mov"``; ``""`` for no extension and for hidden files like ``".clip"``."""
    return PurePosixPath(source_name).suffix.removeprefix(".").lower()


def resolve_target(target: Target, source_name: str, info: MediaInfo | None = None) -> Target:
    """The concrete target for this source: ``target`` itself, or for "compress" the container of the source.

    The result keeps the id and label of "compress" and its :attr:`~Target.compress` flag. A VP9 video in
    Matroska stays VP9 (with Opus): re-encoding it into H.264 would trade a good codec for a bigger file.
    """
    if not target.same_format:
        return target
    extension = source_extension(source_name)
    base = TARGETS[_SAME_FORMAT.get(extension, _FALLBACK)]
    video, audio = base.video, base.audio
    main = info.main_video if info is not None else None
    if base.id == "mkv" and main is not None and main.codec == "vp9":
        video, audio = TARGETS["webm"].video, TARGETS["webm"].audio
    return dataclasses.replace(
        base,
        id=target.id,
        label=target.label,
        extension=extension if extension in _SAME_FORMAT else base.extension,
        video=video,
        audio=audio,
        same_format=False,
        compress=True,
    )


def output_extension(target: Target, source_name: str, info: MediaInfo | None = None) -> str:
    """The output's extension without the dot; for "compress" the source's own (``.MOV`` → ``mov``)."""
    return resolve_target(target, source_name, info).extension


def output_stem(target: Target, source_name: str) -> str:
    """The output's name without extension: the source's stem, marked when the extension would not change.

    ``holiday.mov`` → ``holiday`` for MP4; ``holiday.mp4`` → ``holiday (converted)`` for MP4 and ``holiday
    (compressed)`` for "compress". Only the last extension goes (``a.b.mp4`` → ``a.b``); a hidden file keeps
    its dot (``.clip.mp4`` → ``.clip``); a name without extension stays whole.
    """
    name = PurePosixPath(source_name).name or "video"
    stem = PurePosixPath(name).stem
    if target.compress or target.same_format:
        return f"{stem} (compressed)"
    if target.extension == source_extension(name):
        return f"{stem} (converted)"
    return stem
