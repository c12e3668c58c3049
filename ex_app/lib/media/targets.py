"""What a user can convert into: one :class:`Target` per menu entry, all in :data:`TARGETS`.

A target is *data*: the container, which streams it keeps, how each kind is encoded and which codecs it may
take over unchanged (remux). :mod:`.plan` decides per source which streams are copied, encoded or dropped;
:mod:`.command` is the only code that turns a target and a plan into ffmpeg arguments. Adding a target means
adding one entry here and, only when it needs a new kind of argument, one field plus its handling in the
planner or the builder.

Per-job choices (quality, maximum height, audio bitrate) live in :class:`JobOptions`; the target says what
each choice means for its codec (e.g. which CRF "small" is for x264 versus VP9).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import InvalidRequest
from ..i18n import _

Kind = Literal["video", "audio"]
Quality = Literal["high", "normal", "small"]
Speed = Literal["balanced", "fastest"]
"""Encoder effort. ``balanced`` is what the server uses; ``fastest`` exists for tests and previews."""

QUALITIES: tuple[Quality, ...] = ("high", "normal", "small")
MAX_HEIGHTS: tuple[int, ...] = (2160, 1080, 720, 480)
"""The heights a user may cap a video at (None keeps the source's): the usual 4K / Full HD / HD / SD steps."""
ANY = "*"
"""In a list of codecs or pixel formats: anything at all."""


@dataclass(frozen=True)
class QualityLadder:
    """A codec's quality value (CRF, ``-q:v`` or VBR ``-q:a``) per :data:`Quality`; lower is better for all ours."""

    high: int
    normal: int
    small: int

    def value(self, quality: Quality, *, compress: bool = False) -> int:
        """The value for ``quality``; ``compress`` moves one step towards smaller files (high → normal, …)."""
        value = {"high": self.high, "normal": self.normal, "small": self.small}[quality]
        return value + (self.small - self.normal if compress else 0)


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
    crf: QualityLadder | None
    """Quality values, given with :attr:`quality_flag`; None = the encoder has no quality setting (GIF)."""
    quality_flag: str = "-crf"
    """``-crf`` for x264/x265/VP9, ``-q:v`` for MPEG-4 Part 2."""
    speed: SpeedArgs = field(default_factory=SpeedArgs)
    extra: tuple[str, ...] = ()
    """Always-on encoder arguments, e.g. ``("-b:v", "0")`` so that VP9 runs in constant-quality mode."""
    pix_fmt: str | None = "yuv420p"
    """Forced pixel format; 4:2:0 8-bit is what every browser and phone plays (10-bit and 4:4:4 do not)."""
    even_dimensions: bool = True
    """The encoder (x264/x265/mpeg4 with 4:2:0) refuses odd widths or heights, so the builder rounds them down."""
    tag: str | None = None
    """Codec tag, e.g. ``hvc1`` so that Apple players accept HEVC in MP4; also set when the video is copied."""
    max_fps: float | None = None
    """Frame-rate cap (never raised): GIF frames are big, and browsers play GIF at no more than ~50 fps anyway."""
    max_width: int | None = None
    """Width cap (never upscaled), on top of :attr:`JobOptions.max_height`."""
    filters: str | None = None
    """Filter-graph text appended after scaling, e.g. the GIF palette chain (it may contain ``;``)."""


@dataclass(frozen=True)
class AudioEncoding:
    """How a target encodes its audio streams."""

    encoder: str
    bitrate: str | None = None
    """Default bitrate (``-b:a``); :attr:`JobOptions.audio_bitrate` overrides it. None = use ``vbr``."""
    compress_bitrate: str | None = None
    """The bitrate used by "compress" instead of :attr:`bitrate`."""
    vbr: QualityLadder | None = None
    """VBR quality (``-q:a``) per quality, used when there is no bitrate."""
    max_channels: int | None = None
    """Downmix anything wider (MP3 holds at most stereo)."""
    extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """One thing a file can be converted into."""

    id: str
    """Stable identifier: stored on jobs and used in URLs and icon names; never rename one."""
    name: str
    """The format as people call it ("MP4", "WebM"), used in messages."""
    label: str
    """The menu text (English source string; translated by the caller)."""
    extension: str
    """Output file extension without the dot; empty for "compress", whose output keeps the source's format
    (see :func:`.naming.output_extension`)."""
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
    """None: the output has no sound (GIF)."""
    all_audio: bool = True
    """Keep every audio track (players offer a choice); False keeps only the default one."""
    copy_video: tuple[str, ...] = ()
    """Video codecs the container takes over unchanged when nothing asks for a change; :data:`ANY` for all."""
    copy_pix_fmts: tuple[str, ...] = ("yuv420p", "yuvj420p")
    """…and only in these pixel formats (players fail on 4:4:4 and many on 10-bit H.264)."""
    copy_audio: tuple[str, ...] = ()
    """Audio codecs taken over unchanged; :data:`ANY` for all."""
    keeps_rotation: bool = False
    """The container stores a display rotation, so a rotated phone video may be copied and still show upright.
    Otherwise a rotated video is re-encoded, which turns the picture itself."""
    keep_subtitles: tuple[str, ...] = ()
    """Subtitle codecs the container holds as they are; :data:`ANY` for all."""
    text_subtitles: str | None = None
    """Encoder other *text* subtitles are converted into (``mov_text`` for MP4); None = they are dropped."""
    chapters: bool = True
    """The container holds chapters."""
    attachments: bool = False
    """Keep attachments (Matroska fonts that styled ASS subtitles need)."""
    max_duration: float | None = None
    """Only this many seconds from the start are converted (GIF)."""
    same_format: bool = False
    """"Compress": the container follows the source's (:func:`.naming.resolve_target`)."""
    compress: bool = False
    """Re-encode one quality step smaller than asked, and never copy a stream."""


@dataclass(frozen=True)
class JobOptions:
    """Choices a user may make per job; the defaults are what a plain menu click does."""

    quality: Quality = "normal"
    max_height: int | None = None
    """Scale down to at most this many lines (one of :data:`MAX_HEIGHTS`); never upscales."""
    audio_bitrate: str | None = None
    """e.g. ``"192k"``; None = the target's default."""

    def __post_init__(self) -> None:
        if self.quality not in QUALITIES:
            raise InvalidRequest("options.quality: must be one of high, normal, small")
        # type() rather than isinstance(): JSON's true and 720.0 are not heights.
        if self.max_height is not None and (type(self.max_height) is not int or self.max_height not in MAX_HEIGHTS):
            raise InvalidRequest("options.max_height: must be one of 2160, 1080, 720, 480, or null to keep the size")
        if self.audio_bitrate is not None and not _is_bitrate(self.audio_bitrate):
            raise InvalidRequest("options.audio_bitrate: must look like '128k', between 32k and 512k")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> JobOptions:
        """Options from a JSON object (a request body or a stored job); None or ``{}`` = the defaults.

        Strict: unknown keys and values of the wrong type are refused with :class:`InvalidRequest` naming the
        field (``options.quality: must be one of high, normal, small``).
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise InvalidRequest("options: must be an object")
        unknown = sorted(str(key) for key in data if key not in ("quality", "max_height", "audio_bitrate"))
        if unknown:
            raise InvalidRequest(f"options.{unknown[0]}: unknown option; known are quality, max_height, audio_bitrate")
        return cls(**data)  # __post_init__ checks types and values

    def to_dict(self) -> dict[str, Any]:
        """The JSON object :meth:`from_dict` reads back, every field present."""
        return {"quality": self.quality, "max_height": self.max_height, "audio_bitrate": self.audio_bitrate}


def _is_bitrate(value: object) -> bool:
    return isinstance(value, str) and value.endswith("k") and value[:-1].isdigit() and 32 <= int(value[:-1]) <= 512


_X264 = VideoEncoding(
    encoder="libx264",
    crf=QualityLadder(high=18, normal=23, small=28),
    speed=SpeedArgs(balanced=("-preset", "medium"), fastest=("-preset", "ultrafast")),
)
_X265 = VideoEncoding(
    encoder="libx265",
    # x265's CRF 26 looks about like x264's 23 at 30-40 % fewer bytes; that is why people pick HEVC.
    crf=QualityLadder(high=22, normal=26, small=30),
    # x265 "medium" is ~10x slower than x264 "medium"; "fast" keeps most of HEVC's size gain at a bearable cost.
    speed=SpeedArgs(balanced=("-preset", "fast"), fastest=("-preset", "ultrafast")),
    extra=("-x265-params", "log-level=error"),  # x265 logs to stderr by itself, past ffmpeg's -loglevel
    tag="hvc1",
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
    # libvpx accepts odd sizes, but hardware decoders in phones and TVs expect even 4:2:0 frames.
    even_dimensions=True,
)
_XVID = VideoEncoding(
    encoder="mpeg4",
    # MPEG-4 Part 2 has no CRF; -q:v 2–31 is its constant quantiser (lower = better).
    crf=QualityLadder(high=3, normal=5, small=8),
    quality_flag="-q:v",
    # The XVID tag is what old players and DVD players look for in AVI.
    tag="xvid",
)
_GIF = VideoEncoding(
    encoder="gif",
    crf=None,
    pix_fmt=None,  # paletteuse hands the encoder its 256-colour picture
    even_dimensions=False,
    max_fps=12,
    max_width=480,
    # One palette for the whole clip (stats_mode=diff favours what moves), ordered dithering: smaller files
    # and no flicker compared with error diffusion.
    filters="split[s0][s1];[s0]palettegen=stats_mode=diff[p];[s1][p]paletteuse=dither=bayer:bayer_scale=5",
)
_AAC = AudioEncoding(encoder="aac", bitrate="160k", compress_bitrate="128k")
_OPUS = AudioEncoding(encoder="libopus", bitrate="128k", compress_bitrate="96k")
_MP3 = AudioEncoding(encoder="libmp3lame", vbr=QualityLadder(high=0, normal=2, small=5), max_channels=2)
_MP3_CBR = AudioEncoding(encoder="libmp3lame", bitrate="192k", compress_bitrate="128k", max_channels=2)
"""Constant bitrate: old AVI players mis-time variable-bitrate MP3."""

_MP4_FAMILY = dict(
    kind="video",
    muxer_args=("-movflags", "+faststart"),
    video=_X264,
    audio=_AAC,
    copy_video=("h264",),
    copy_audio=("aac",),
    keeps_rotation=True,
    keep_subtitles=("mov_text",),
    text_subtitles="mov_text",
)
_AUDIO_ONLY = dict(
    kind="audio",
    mimes=("video/", "audio/"),
    all_audio=False,  # one track: these containers (and most players) handle a single stream
)
_TEXT_IN_MATROSKA = ("subrip", "ass", "ssa", "webvtt", "hdmv_pgs_subtitle", "dvd_subtitle", "dvb_subtitle")

TARGETS: dict[str, Target] = {
    t.id: t
    for t in (
        Target(id="mp4", name="MP4", label=_("Convert into MP4"), extension="mp4", muxer="mp4", **_MP4_FAMILY),
        Target(
            id="mp4_hevc",
            name="MP4 (HEVC)",
            label=_("Convert into MP4 (HEVC)"),
            extension="mp4",
            muxer="mp4",
            **{**_MP4_FAMILY, "video": _X265, "copy_video": ("hevc",)},
            # Every HEVC decoder handles Main 10 (iPhones record it), so 10-bit HEVC may be copied.
            copy_pix_fmts=("yuv420p", "yuvj420p", "yuv420p10le"),
        ),
        Target(
            id="webm",
            name="WebM",
            label=_("Convert into WebM"),
            extension="webm",
            kind="video",
            muxer="webm",
            video=_VP9,
            audio=_OPUS,
            copy_video=("vp9", "vp8", "av1"),
            copy_pix_fmts=("yuv420p",),
            copy_audio=("opus", "vorbis"),
            keep_subtitles=("webvtt",),
            text_subtitles="webvtt",
        ),
        Target(
            id="mkv",
            name="MKV",
            label=_("Convert into MKV"),
            extension="mkv",
            kind="video",
            muxer="matroska",
            video=_X264,
            audio=_AAC,
            # Matroska holds about anything: a plain click only changes the container.
            copy_video=(ANY,),
            copy_pix_fmts=(ANY,),
            copy_audio=(ANY,),
            # MP4's timed text (tx3g) has no Matroska mapping; SubRip carries the same text.
            keep_subtitles=_TEXT_IN_MATROSKA,
            text_subtitles="srt",
            attachments=True,
        ),
        Target(id="mov", name="MOV", label=_("Convert into MOV"), extension="mov", muxer="mov", **_MP4_FAMILY),
        Target(
            id="avi",
            name="AVI",
            label=_("Convert into AVI"),
            extension="avi",
            kind="video",
            muxer="avi",
            video=_XVID,
            audio=_MP3_CBR,
            all_audio=False,  # old players cannot switch tracks; they play the first
            copy_video=("mpeg4",),
            copy_pix_fmts=("yuv420p",),
            copy_audio=("mp3",),
            chapters=False,
        ),
        # ipod is the MP4 muxer with the brand and codec tags iTunes and Apple TV expect of .m4v.
        Target(id="m4v", name="M4V", label=_("Convert into M4V"), extension="m4v", muxer="ipod", **_MP4_FAMILY),
        Target(
            id="gif",
            name="GIF",
            label=_("Convert into animated GIF"),
            extension="gif",
            kind="video",
            muxer="gif",
            video=_GIF,
            audio=None,
            chapters=False,
            # A GIF stores every frame as a full picture: 30 s at 480x270 and 12 fps is already tens of MB.
            max_duration=30,
        ),
        Target(
            id="mp3",
            name="MP3",
            label=_("Extract audio (MP3)"),
            extension="mp3",
            muxer="mp3",
            audio=_MP3,
            copy_audio=("mp3",),
            **_AUDIO_ONLY,
        ),
        Target(
            id="m4a",
            name="M4A",
            label=_("Extract audio (M4A)"),
            extension="m4a",
            muxer="ipod",
            muxer_args=("-movflags", "+faststart"),
            audio=_AAC,
            copy_audio=("aac",),
            **_AUDIO_ONLY,
        ),
        Target(
            id="opus",
            name="Opus",
            label=_("Extract audio (Opus)"),
            extension="opus",
            muxer="opus",
            audio=_OPUS,
            copy_audio=("opus",),
            **_AUDIO_ONLY,
        ),
        Target(
            id="compress",
            name="the same format",
            label=_("Compress (same format)"),
            extension="",
            kind="video",
            muxer="",  # resolved per source by naming.resolve_target
            same_format=True,
            compress=True,
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
