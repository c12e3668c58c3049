"""Building the ffmpeg command for one job: pure (a target, what the probe saw, two paths → an argument list).

:mod:`.plan` decides what happens to each stream; this module is the only place that spells it in ffmpeg's
words. Nothing here runs a process or touches the file system, so every decision is unit-tested on exact lists.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import MediaError, UnsupportedInput
from ..i18n import _
from ._process import input_options, input_url
from .plan import AudioPlan, Plan, make_plan
from .probe import MediaInfo
from .targets import AudioEncoding, JobOptions, Speed, Target, VideoEncoding

GLOBAL_ARGS: tuple[str, ...] = (
    "-hide_banner",
    "-nostdin",  # never wait for a keypress; stdin is /dev/null anyway
    "-y",  # the caller hands us a scratch path of its own
    "-loglevel",
    "error",  # stderr carries only what explains a failure
    "-progress",
    "pipe:1",
    "-nostats",
)


def check_compatible(target: Target, info: MediaInfo) -> None:
    """Refuse, with a sentence a person understands, a source that has nothing ``target`` can use.

    Raises :class:`MediaError` for a file without any stream FFmpeg can decode, :class:`UnsupportedInput`
    for a video target without a video track or an audio target without an audio track. Runs before any
    encoder is started.
    """
    if not info.video and not info.audio and not info.subtitles:
        raise MediaError(_("This file contains no video or audio track that FFmpeg can read."))
    if target.kind == "video" and info.main_video is None:
        raise UnsupportedInput(
            f"This file has no video track, so it cannot be converted to {target.name}. Try 'Extract audio'."
        )
    if target.kind == "audio" and info.main_audio is None:
        raise UnsupportedInput(f"This file has no audio track, so there is nothing to save as {target.name}.")
    # ffprobe names no codec for a stream it found but cannot decode (an unknown or proprietary format).
    main = info.main_video if target.kind == "video" else info.main_audio
    if main is not None and main.codec == "unknown":
        kind = "video" if target.kind == "video" else "audio"
        raise MediaError(_("This file's {kind} track is in a format FFmpeg cannot decode."), kind=kind)


def build_command(
    target: Target,
    info: MediaInfo,
    src: Path,
    dst: Path,
    *,
    options: JobOptions | None = None,
    plan: Plan | None = None,
    threads: int = 0,
    ffmpeg: str = "ffmpeg",
    speed: Speed = "balanced",
) -> list[str]:
    """The complete ffmpeg argument list converting ``src`` into ``dst`` for ``target``.

    Calls :func:`check_compatible` first. ``plan`` (from :func:`.make_plan`) says which streams are copied,
    encoded or dropped; without one, it is made from ``options`` and ``src``'s name. Streams are chosen
    explicitly; both paths are given as ``file:`` URLs, so names starting with ``-`` or containing ``:`` are
    safe, and the input may only be read by the demuxers in :data:`._process.INPUT_FORMATS`. ``threads`` > 0
    caps encoder threads. ``speed`` is the encoder effort; only tests ask for ``fastest``.
    """
    check_compatible(target, info)
    plan = plan or make_plan(target, info, options, source_name=src.name)
    target = plan.target
    # Input options, so before -i: read this file only, with the demuxer the probe saw (see input_options).
    cmd = [ffmpeg, *GLOBAL_ARGS, *input_options(info.format_name)]
    if plan.max_duration is not None:
        # As an input option, so that decoding stops there: the GIF palette pass would otherwise read it all.
        cmd += ["-t", f"{plan.max_duration:g}"]
    cmd += ["-i", input_url(src)]
    if plan.video is not None:
        cmd += _video_output(plan, info, speed)
    else:
        assert plan.audio  # guaranteed by check_compatible
        cmd += ["-map", f"0:{plan.audio[0].index}", "-vn", "-sn", "-dn"]
        cmd += _audio_codecs(plan)
    cmd += ["-map_metadata", "0", "-map_chapters", "0" if target.chapters else "-1"]
    if threads > 0:
        cmd += ["-threads", str(threads)]
    cmd += [*target.muxer_args, "-f", target.muxer, input_url(dst)]
    return cmd


def _video_output(plan: Plan, info: MediaInfo, speed: Speed) -> list[str]:
    target = plan.target
    assert target.video is not None
    args = ["-map", f"0:{plan.video}"]
    for stream in (*plan.audio, *plan.subtitles):
        args += ["-map", f"0:{stream.index}"]
    if target.attachments:
        args += ["-map", "0:t?"]  # "?": no error when there are none
    if plan.copy_video:
        args += ["-c:v", "copy"]
        if target.video.tag:
            args += ["-tag:v", target.video.tag]
    else:
        fps = next((v.fps for v in info.video if v.index == plan.video), None)
        args += _video_encoding(target.video, plan.options, speed, compress=target.compress, source_fps=fps)
    args += _audio_codecs(plan)
    if plan.subtitles:
        encoders = [s.encoder for s in plan.subtitles]
        if len(set(encoders)) == 1:
            args += ["-c:s", encoders[0] or "copy"]
        else:
            for position, encoder in enumerate(encoders):
                args += [f"-c:s:{position}", encoder or "copy"]
    return args


def _video_encoding(
    video: VideoEncoding, options: JobOptions, speed: Speed, *, compress: bool, source_fps: float | None
) -> list[str]:
    args = ["-c:v", video.encoder, *video.speed.args(speed)]
    if video.crf is not None:
        args += [video.quality_flag, str(video.crf.value(options.quality, compress=compress))]
    args += video.extra
    if video.pix_fmt:
        args += ["-pix_fmt", video.pix_fmt]
    if video.tag:
        args += ["-tag:v", video.tag]
    filters = _video_filters(video, options, source_fps)
    if filters:
        args += ["-vf", ",".join(filters)]
    return args


def _video_filters(video: VideoEncoding, options: JobOptions, source_fps: float | None) -> list[str]:
    """Filters run after ffmpeg's automatic rotation, so ``iw``/``ih`` are the size as displayed."""
    filters: list[str] = []
    if video.max_fps is not None and (source_fps is None or source_fps > video.max_fps):
        filters.append(f"fps={video.max_fps:g}")  # before scaling: fewer frames to scale
    if options.max_height is not None:
        # min() keeps smaller sources as they are: never upscale. -2 keeps the aspect with an even width.
        height = f"min(ih\\,{options.max_height})"
        if video.even_dimensions:
            filters.append(f"scale=-2:trunc({height}/2)*2")
        else:
            filters.append(f"scale=-1:{height}")
    elif video.even_dimensions:
        # A no-op for even sizes; rounds odd ones down by one pixel, which 4:2:0 encoders require.
        filters.append("scale=trunc(iw/2)*2:trunc(ih/2)*2")
    if video.max_width is not None:
        filters.append(f"scale=min(iw\\,{video.max_width}):-1:flags=lanczos")
    if video.filters:
        filters.append(video.filters)
    return filters


def _audio_codecs(plan: Plan) -> list[str]:
    """One ``-c:a`` for all tracks when they are treated alike (the usual case), else one per track."""
    audio = plan.target.audio
    if audio is None or not plan.audio:
        return []
    per_stream = [_audio_encoding(audio, plan.options, a, compress=plan.target.compress) for a in plan.audio]
    if all(args == per_stream[0] for args in per_stream):
        return per_stream[0]
    args: list[str] = []
    for position, stream_args in enumerate(per_stream):
        for flag, value in zip(stream_args[::2], stream_args[1::2], strict=True):
            # "-c:a" → "-c:a:1"; a bare "-ac:1" would mean output stream 1 of any kind, so "-ac:a:1".
            args += [f"{flag}:{position}" if ":" in flag else f"{flag}:a:{position}", value]
    return args


def _audio_encoding(audio: AudioEncoding, options: JobOptions, stream: AudioPlan, *, compress: bool) -> list[str]:
    if stream.copy:
        return ["-c:a", "copy"]
    args = ["-c:a", audio.encoder]
    bitrate = options.audio_bitrate or (audio.compress_bitrate if compress else None) or audio.bitrate
    if bitrate:
        args += ["-b:a", bitrate]
    elif audio.vbr is not None:
        args += ["-q:a", str(audio.vbr.value(options.quality, compress=compress))]
    if audio.max_channels is not None and (stream.channels or 0) > audio.max_channels:
        args += ["-ac", str(audio.max_channels)]
    return args + list(audio.extra)
