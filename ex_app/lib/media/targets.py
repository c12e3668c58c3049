"""What a user can convert into: one :class:`Target` per menu entry, all in :data:`TARGETS`.

A target is *data*: the container, which streams it keeps and how each kind is encoded. The command builder
(:mod:`.command`) is the only code that turns it into ffmpeg arguments, so adding a target — MP4 HEVC, MOV,
GIF, M4A, Opus, "compress in the same container" — means adding one entry here and, only when it needs a
new kind of argument, one field plus its handling in the builder.

Per-job choices (quality, maximum height, audio bitrate) live in :class:`JobOptions`; the target says what
each choice means for its codec (e.g. which CRF "small" is for x264 versus VP9).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..errors import InvalidRequest

Kind = Literal["video", "audio"]
Quality = Literal["high", "normal", "small"]
Speed = Literal["balanced", "fastest"]
"""Encoder effort. ``balanced`` is what the server uses; ``fastest`` exists for tests and previews."""


@dataclass(frozen=True)
class QualityLadder:
    """A codec's quality value (CRF, or VBR ``-q:a``) for each :data:`Quality`; lower is better for all ours."""

    high: int
    normal: int
    small: int

    def value(self, quality: Quality) -> int:
        return {"high": self.high, "normal": self.normal, "small": self.small}[quality]


@dataclass(frozen=True)
class SpeedArgs:
    """Encoder arguments for each :data:`Speed`."""

    balanced: tuple[str, ...] = ()
    fastest: tuple[str, ...] = ()

    def args(self, speed: Speed) -> tuple[str, ...]:
        return self.fastest if speed == "fastest" else self.balanced


@dataclass(frozen=True)
class VideoEncoding:
    """How a target encodes its (single) video stream."""

    encoder: str
    """ffmpeg encoder name, e.g. ``libx264``."""
    crf: QualityLadder
    speed: SpeedArgs = field(default_factory=SpeedArgs)
    extra: tuple[str, ...] = ()
    """Always-on encoder arguments, e.g. ``("-b:v", "0")`` so that VP9 runs in constant-quality mode."""
    pix_fmt: str | None = "yuv420p"
    """Forced pixel format; 4:2:0 8-bit is what every browser and phone plays."""
    even_dimensions: bool = True
    """The encoder (x264/x265 with 4:2:0) refuses odd widths or heights, so the builder rounds them down."""
    tag: str | None = None
    """Codec tag, e.g. ``hvc1`` so that Apple players accept HEVC in MP4."""
    filters: tuple[str, ...] = ()
    """Extra filters appended after scaling (e.g. a GIF palette chain)."""


@dataclass(frozen=True)
class AudioEncoding:
    """How a target encodes its audio streams."""

    encoder: str
    bitrate: str | None = None
    """Default bitrate (``-b:a``); :attr:`JobOptions.audio_bitrate` overrides it. None = use ``vbr``."""
    vbr: QualityLadder | None = None
    """VBR quality (``-q:a``) per quality, used when there is no bitrate."""
    max_channels: int | None = None
    """Downmix anything wider (MP3 holds at most stereo)."""
    extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """One thing a file can be converted into."""

    id: str
    name: str
    """The format as people call it ("MP4", "WebM"), used in messages."""
    label: str
    """The menu text (English source string; translated by the caller)."""
    extension: str
    """Output file extension without the dot."""
    kind: Kind
    """``video`` needs a video stream in the source, ``audio`` an audio stream."""
    muxer: str
    """ffmpeg output format (``-f``), so the output name's extension never matters."""
    mimes: tuple[str, ...] = ("video/",)
    """MIME type prefixes the file action is offered for."""
    muxer_args: tuple[str, ...] = ()
    """Output-format arguments, e.g. ``-movflags +faststart`` so MP4 starts playing before it is downloaded."""
    video: VideoEncoding | None = None
    audio: AudioEncoding | None = None
    copy: bool = False
    """Copy every stream as it is (remux) instead of encoding; the container must hold whatever comes."""
    subtitle_conversions: tuple[tuple[str, str], ...] = ()
    """Subtitle codecs this container cannot hold as they are, and what to convert them into when copying."""
    keep_subtitles: bool = False
    """Whether an encoding target keeps subtitle streams (copied, or converted per ``subtitle_conversions``)."""


@dataclass(frozen=True)
class JobOptions:
    """Choices a user may make per job; the defaults are what a plain menu click does."""

    quality: Quality = "normal"
    max_height: int | None = None
    """Scale down to at most this many lines; never upscales."""
    audio_bitrate: str | None = None
    """e.g. ``"192k"``; None = the target's default."""

    def __post_init__(self) -> None:
        if self.quality not in ("high", "normal", "small"):
            raise InvalidRequest(f"Unknown quality '{self.quality}'; choose one of high, normal, small.")
        if self.max_height is not None and not (16 <= self.max_height <= 8640):
            raise InvalidRequest("The maximum height must be between 16 and 8640 pixels.")
        if self.audio_bitrate is not None and not _is_bitrate(self.audio_bitrate):
            raise InvalidRequest("The audio bitrate must look like '128k' (between 32k and 512k).")


def _is_bitrate(value: str) -> bool:
    return value.endswith("k") and value[:-1].isdigit() and 32 <= int(value[:-1]) <= 512


_X264 = VideoEncoding(
    encoder="libx264",
    crf=QualityLadder(high=18, normal=23, small=28),
    speed=SpeedArgs(balanced=("-preset", "medium"), fastest=("-preset", "ultrafast")),
)
_VP9 = VideoEncoding(
    encoder="libvpx-vp9",
    # VP9's CRF scale is 0–63; 31 is libvpx's own recommendation for 1080p.
    crf=QualityLadder(high=24, normal=31, small=37),
    # deadline=good/cpu-used=4 is about 5x faster than libvpx's default with a small size cost: right for a
    # shared server. realtime/8 is only for tests.
    speed=SpeedArgs(
        balanced=("-deadline", "good", "-cpu-used", "4"),
        fastest=("-deadline", "realtime", "-cpu-used", "8"),
    ),
    # -b:v 0 makes CRF a pure quality target; -row-mt lets libvpx use more than a few threads.
    extra=("-b:v", "0", "-row-mt", "1"),
    even_dimensions=False,
)
_AAC = AudioEncoding(encoder="aac", bitrate="160k")
_OPUS = AudioEncoding(encoder="libopus", bitrate="128k")
_MP3 = AudioEncoding(encoder="libmp3lame", vbr=QualityLadder(high=0, normal=2, small=5), max_channels=2)

TARGETS: dict[str, Target] = {
    t.id: t
    for t in (
        Target(
            id="mp4",
            name="MP4",
            label="Convert into MP4",
            extension="mp4",
            kind="video",
            muxer="mp4",
            muxer_args=("-movflags", "+faststart"),
            video=_X264,
            audio=_AAC,
        ),
        Target(
            id="webm",
            name="WebM",
            label="Convert into WebM",
            extension="webm",
            kind="video",
            muxer="webm",
            video=_VP9,
            audio=_OPUS,
        ),
        Target(
            id="mkv",
            name="MKV",
            label="Convert into MKV",
            extension="mkv",
            kind="video",
            muxer="matroska",
            copy=True,
            # MP4's timed text (tx3g) has no Matroska mapping; SubRip carries the same text.
            subtitle_conversions=(("mov_text", "srt"),),
        ),
        Target(
            id="mp3",
            name="MP3",
            label="Extract audio (MP3)",
            extension="mp3",
            kind="audio",
            muxer="mp3",
            mimes=("video/", "audio/"),
            audio=_MP3,
        ),
    )
}
"""Every target, in menu order."""


def get_target(target_id: str) -> Target:
    """The target called ``target_id``; raises :class:`InvalidRequest` naming the valid ones otherwise."""
    try:
        return TARGETS[target_id]
    except KeyError:
        choices = ", ".join(TARGETS)
        raise InvalidRequest(f"Unknown target '{target_id}'; choose one of {choices}.") from None
