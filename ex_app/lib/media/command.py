"""Building the ffmpeg command for one job: pure (a target, what the probe saw, two paths → an argument list).

Nothing here runs a process or touches the file system, so every decision is unit-tested on exact lists.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import MediaError, UnsupportedInput
from ._process import input_url
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

    Raises :class:`MediaError` for a file without any stream, :class:`UnsupportedInput` for a video target
    without a video track or an audio target without an audio track.
    """
    if not info.video and not info.audio and not info.subtitles:
        raise MediaError("This file contains no video or audio track that FFmpeg can read.")
    if target.kind == "video" and info.main_video is None:
        raise UnsupportedInput(
            f"This file has no video track, so it cannot be converted to {target.name}. Try 'Extract audio'."
        )
    if target.kind == "audio" and info.main_audio is None:
        raise UnsupportedInput(f"This file has no audio track, so there is nothing to save as {target.name}.")


def build_command(
    target: Target,
    info: MediaInfo,
    src: Path,
    dst: Path,
    *,
    options: JobOptions | None = None,
    threads: int = 0,
    ffmpeg: str = "ffmpeg",
    speed: Speed = "balanced",
) -> list[str]:
    """The complete ffmpeg argument list converting ``src`` into ``dst`` for ``target``.

    Calls :func:`check_compatible` first. Streams are chosen explicitly from ``info``; both paths are given
    as ``file:`` URLs, so names starting with ``-`` or containing ``:`` are safe. ``threads`` > 0 caps
    encoder threads. ``speed`` is the encoder effort; only tests should ask for ``fastest``.
    """
    options = options or JobOptions()
    check_compatible(target, info)
    cmd = [ffmpeg, *GLOBAL_ARGS, "-i", input_url(src)]
    if target.copy:
        cmd += _copy_streams(target, info)
    elif target.kind == "video":
        cmd += _video_output(target, info, options, speed)
    else:
        cmd += _audio_output(target, info, options)
    cmd += ["-map_metadata", "0"]
    if threads > 0:
        cmd += ["-threads", str(threads)]
    cmd += [*target.muxer_args, "-f", target.muxer, input_url(dst)]
    return cmd


def _copy_streams(target: Target, info: MediaInfo) -> list[str]:
    # Data streams (e.g. QuickTime timecode) have no place in most containers and carry nothing a person sees.
    args = ["-map", "0", "-map", "-0:d", "-c", "copy"]
    return args + _subtitle_conversions(target, info)


def _video_output(target: Target, info: MediaInfo, options: JobOptions, speed: Speed) -> list[str]:
    assert target.video is not None and info.main_video is not None  # guaranteed by check_compatible
    args = ["-map", f"0:{info.main_video.index}"]
    for audio in info.audio if target.audio else ():
        args += ["-map", f"0:{audio.index}"]
    if target.keep_subtitles:
        for sub in info.subtitles:
            args += ["-map", f"0:{sub.index}"]
    args += _video_encoding(target.video, options, speed)
    if target.audio and info.audio:
        channels = max((a.channels or 0 for a in info.audio), default=0)
        args += _audio_encoding(target.audio, options, channels)
    if target.keep_subtitles:
        args += ["-c:s", "copy", *_subtitle_conversions(target, info)]
    return args


def _audio_output(target: Target, info: MediaInfo, options: JobOptions) -> list[str]:
    assert target.audio is not None and info.main_audio is not None  # guaranteed by check_compatible
    # One audio track: the containers of audio targets (MP3, and later M4A/Opus players) play only one.
    args = ["-map", f"0:{info.main_audio.index}", "-vn", "-sn", "-dn"]
    return args + _audio_encoding(target.audio, options, info.main_audio.channels or 0)


def _video_encoding(video: VideoEncoding, options: JobOptions, speed: Speed) -> list[str]:
    args = ["-c:v", video.encoder, *video.speed.args(speed), "-crf", str(video.crf.value(options.quality))]
    args += video.extra
    if video.pix_fmt:
        args += ["-pix_fmt", video.pix_fmt]
    if video.tag:
        args += ["-tag:v", video.tag]
    filters = _scale_filters(video, options)
    if filters:
        args += ["-vf", ",".join(filters)]
    return args


def _scale_filters(video: VideoEncoding, options: JobOptions) -> list[str]:
    """Scaling runs after ffmpeg's automatic rotation, so ``ih`` is the height as displayed."""
    filters: list[str] = []
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
    return filters + list(video.filters)


def _audio_encoding(audio: AudioEncoding, options: JobOptions, channels: int) -> list[str]:
    args = ["-c:a", audio.encoder]
    bitrate = options.audio_bitrate or audio.bitrate
    if bitrate:
        args += ["-b:a", bitrate]
    elif audio.vbr is not None:
        args += ["-q:a", str(audio.vbr.value(options.quality))]
    if audio.max_channels is not None and channels > audio.max_channels:
        args += ["-ac", str(audio.max_channels)]
    return args + list(audio.extra)


def _subtitle_conversions(target: Target, info: MediaInfo) -> list[str]:
    conversions = dict(target.subtitle_conversions)
    args: list[str] = []
    for position, sub in enumerate(info.subtitles):
        if sub.codec in conversions:
            args += [f"-c:s:{position}", conversions[sub.codec]]
    return args
