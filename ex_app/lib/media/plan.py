"""Deciding, per stream, what a conversion does: copy it, encode it, or drop it (and say so). Pure.

:func:`make_plan` looks at what ffprobe saw and the job's options; :func:`.command.build_command` turns the
resulting :class:`Plan` into ffmpeg arguments. A stream is copied ("remuxed") only when the target's
container plays it as it is and the options ask for no change, because re-encoding costs time and quality.

Whatever cannot be kept is dropped, never a reason to fail; each drop becomes a *note*, a short English
sentence for the job's owner (the caller translates it).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..i18n import Message, _
from .naming import resolve_target
from .probe import AudioStream, MediaInfo, SubtitleStream, VideoStream
from .targets import ANY, JobOptions, Target

TEXT_SUBTITLES = frozenset(
    {"subrip", "ass", "ssa", "mov_text", "webvtt", "text", "microdvd", "subviewer", "subviewer1", "sami",
     "realtext", "jacosub", "mpl2", "pjs", "vplayer", "stl", "eia_608"}
)  # fmt: skip
"""Subtitle codecs ffmpeg decodes into text, so they can be re-encoded into any text subtitle format."""
PICTURE_SUBTITLES = frozenset({"hdmv_pgs_subtitle", "dvd_subtitle", "dvb_subtitle", "xsub"})
"""Subtitles stored as pictures (Blu-ray, DVD, DVB): ffmpeg 5.1 cannot turn them into text."""
EIGHT_BIT_420 = frozenset({"yuv420p", "yuvj420p"})


@dataclass(frozen=True)
class AudioPlan:
    index: int
    """Input stream index (``-map 0:<index>``)."""
    copy: bool
    channels: int | None = None
    """The source's channel count, for downmixing."""


@dataclass(frozen=True)
class SubtitlePlan:
    index: int
    encoder: str | None
    """The subtitle encoder, or None to copy the stream as it is."""


@dataclass(frozen=True)
class Plan:
    """What one conversion does. ``target`` is concrete: "compress" is already resolved to a container."""

    target: Target
    options: JobOptions
    video: int | None
    """Input index of the one video stream converted; None for audio targets."""
    copy_video: bool
    audio: tuple[AudioPlan, ...]
    subtitles: tuple[SubtitlePlan, ...]
    expected_duration: float | None
    """Seconds the output should last: the source's, or the target's cap when that is shorter."""
    notes: tuple[Message, ...] = ()

    @property
    def remux(self) -> bool:
        """Nothing is re-encoded: every stream is copied into the new container."""
        return (self.video is None or self.copy_video) and all(a.copy for a in self.audio)

    @property
    def max_duration(self) -> float | None:
        return self.target.max_duration


def make_plan(target: Target, info: MediaInfo, options: JobOptions | None = None, *, source_name: str = "") -> Plan:
    """Decide every stream's fate for converting a source (``info``, named ``source_name``) into ``target``.

    ``source_name`` only matters for "compress", whose container follows the source's extension. Call
    :func:`.command.check_compatible` first: this assumes the source has what the target needs.
    """
    options = options or JobOptions()
    target = resolve_target(target, source_name, info)
    notes: list[Message] = []
    video_index: int | None = None
    copy_video = False
    if target.kind == "video":
        main = info.main_video
        assert main is not None, "check_compatible() first"
        video_index = main.index
        copy_video = _can_copy_video(target, main, options)
        notes += _video_notes(target, info, main, copy_video)
    audio = _plan_audio(target, info, options, notes)
    subtitles = _plan_subtitles(target, info, notes)
    if info.chapters and not target.chapters:
        notes.append(Message(_("The chapters were dropped: {format} cannot hold chapters."), format=target.name))
    expected = info.duration
    if target.max_duration is not None and (expected is None or expected > target.max_duration):
        if expected is not None:
            seconds = f"{target.max_duration:g}"
            notes.append(
                Message(
                    _("Only the first {seconds} seconds were converted ({format} limit)."),
                    seconds=seconds,
                    format=target.name,
                )
            )
        expected = target.max_duration if expected is not None else None
    if (video_index is None or copy_video) and all(a.copy for a in audio):
        notes.insert(
            0,
            Message(
                _("Nothing was re-encoded: the streams were copied into the new file, so the quality is unchanged.")
            ),
        )
    elif copy_video:
        notes.insert(0, Message(_("The video was copied without re-encoding, so its quality is unchanged.")))
    return Plan(target, options, video_index, copy_video, tuple(audio), tuple(subtitles), expected, tuple(notes))


def _allowed(value: str | None, allowed: tuple[str, ...]) -> bool:
    return ANY in allowed or (value is not None and value in allowed)


def _needs_scaling(video: VideoStream, options: JobOptions) -> bool:
    if options.max_height is None:
        return False
    size = video.display_size
    return size is None or size[1] > options.max_height


def _can_copy_video(target: Target, video: VideoStream, options: JobOptions) -> bool:
    return (
        not target.compress
        and options.quality == "normal"
        and _allowed(video.codec, target.copy_video)
        and _allowed(video.pix_fmt, target.copy_pix_fmts)
        and (video.rotation == 0 or target.keeps_rotation)
        and not _needs_scaling(video, options)
        and target.max_duration is None
    )


def _video_notes(target: Target, info: MediaInfo, main: VideoStream, copied: bool) -> list[Message]:
    notes: list[Message] = []
    others = [v for v in info.video if v.index != main.index]
    if others:
        notes.append(
            Message(_("Only the main video track was converted; {count} more were left out."), count=len(others))
        )
    if target.audio is None and info.audio:
        notes.append(Message(_("{format} has no sound, so the audio was left out."), format=target.name))
    forced = target.video.pix_fmt if target.video is not None else None
    if not copied and forced == "yuv420p" and main.pix_fmt is not None and main.pix_fmt not in EIGHT_BIT_420:
        notes.append(
            Message(
                _("The picture was converted from {pix_fmt} to 8-bit 4:2:0 colour, which every player shows."),
                pix_fmt=main.pix_fmt,
            )
        )
    if not copied and main.rotation:
        notes.append(Message(_("The picture was turned upright (the phone had recorded it sideways).")))
    return notes


def _plan_audio(target: Target, info: MediaInfo, options: JobOptions, notes: list[Message]) -> list[AudioPlan]:
    if target.audio is None or not info.audio:
        return []
    streams: tuple[AudioStream, ...] = info.audio
    if not target.all_audio:
        main = info.main_audio
        assert main is not None
        if len(info.audio) > 1:
            number = info.audio.index(main) + 1
            notes.append(
                Message(
                    _("Only audio track {number} of {count} was kept: {format} holds one audio track."),
                    number=number,
                    count=len(info.audio),
                    format=target.name,
                )
            )
        streams = (main,)
    copy_allowed = not target.compress and options.quality == "normal" and options.audio_bitrate is None
    max_channels = target.audio.max_channels
    return [
        AudioPlan(
            index=a.index,
            copy=copy_allowed
            and _allowed(a.codec, target.copy_audio)
            and (max_channels is None or (a.channels is not None and a.channels <= max_channels)),
            channels=a.channels,
        )
        for a in streams
    ]


def _plan_subtitles(target: Target, info: MediaInfo, notes: list[Message]) -> list[SubtitlePlan]:
    if target.kind != "video":
        return []  # extracting audio: leaving the subtitles out is what was asked for
    plans: list[SubtitlePlan] = []
    for number, sub in enumerate(info.subtitles, start=1):
        if _allowed(sub.codec, target.keep_subtitles):
            plans.append(SubtitlePlan(sub.index, None))
        elif sub.codec in TEXT_SUBTITLES and target.text_subtitles is not None:
            plans.append(SubtitlePlan(sub.index, target.text_subtitles))
        else:
            notes.append(
                Message(
                    _("Subtitle track {number} ({codec}) was dropped: {reason}."),
                    number=number,
                    codec=sub.codec,
                    reason=_why_not(target, sub),
                )
            )
    return plans


def _why_not(target: Target, sub: SubtitleStream) -> Message:
    if not target.keep_subtitles and target.text_subtitles is None:
        return Message(_("{format} cannot hold subtitles"), format=target.name)
    if sub.codec in PICTURE_SUBTITLES:
        return Message(_("{format} cannot hold picture subtitles"), format=target.name)
    return Message(_("it cannot be converted for {format}"), format=target.name)
