"""How much work one file may cause: pure functions on what the probe saw, the plan and the file's size.

A few kilobytes can describe hours of video or a picture of a billion pixels (a "decompression bomb"): a GIF
whose frames each last 655 s, a header claiming 16000x16000. :func:`check_decoding_cost` refuses such a source
before any encoder starts; :func:`encode_time_limit` and :func:`output_size_limit` bound what is left while
ffmpeg runs (the runner stops it at either bound), and the memory ceiling is :class:`._process.ProcessLimits`.
"""

from __future__ import annotations

import math

from ..errors import MediaError
from ..i18n import _
from .plan import Plan
from .probe import MediaInfo, VideoStream

MAX_FRAME_PIXELS = 8192 * 8192
"""The largest picture accepted: above 8K UHD (7680x4320) and 8K 360° video (8192x4096). One decoded frame this
size is already 100 MB to 400 MB."""

MAX_PIXELS_PER_BYTE = 1_000_000
"""Decoded pixels (frames x picture size) one byte of the file may stand for. Real video stays far below: an
hour of 1080p at a normal bitrate is about 100 pixels per byte, a completely black 1080p video from x264
about 25 000; a few-kilobyte GIF that plays for nine hours at 720p is 30 million."""

FALLBACK_FPS = 25.0
"""Frame rate assumed for a video stream that states none."""

MIN_TIME_LIMIT = 600.0
"""Seconds any conversion may take, however short: start-up, a busy server, a slow disk."""

REALTIME_FACTOR = {"libx265": 80.0, "libvpx-vp9": 80.0, "libx264": 30.0, "gif": 30.0, "mpeg4": 15.0}
"""Wall-clock seconds per second of 1080p video the encoder may take. Measured on a busy two-core machine,
1080p25: x265 "medium" about 9 s per second of video, VP9 "good" about 7 s, x264 "medium" about 5 s; the
factors leave room for two conversions sharing such a machine. The limit is for runaway work, not a quota:
the admin's maximum caps long videos."""
COPY_FACTOR = 5.0
"""For copied video and audio-only targets: reading and writing, plus an audio encoder."""

MIN_OUTPUT_BYTES = 256 * 1024 * 1024
"""An output may always grow to this size, whatever the ratio: a small source may rightly become a big GIF.
(The default of ``VCFM_MIN_OUTPUT_MB``.)"""


def _frame_rate(video: VideoStream) -> float:
    """The rate ffmpeg will use for the output, as its ``av_guess_frame_rate`` picks it: the stream's
    ``r_frame_rate`` unless that is implausibly high for the average rate."""
    rate, average = video.frame_rate, video.fps
    if rate and average and rate > 210 and average < 70:
        return average
    return rate or average or FALLBACK_FPS


def decoded_pixels(info: MediaInfo, seconds: float | None = None) -> float:
    """Pixels the main video decodes into over ``seconds`` (default: the whole file): frames x picture size,
    frames being the duration at the output frame rate, or for the whole file the stated frame count when
    that is larger."""
    video = info.main_video
    if video is None or not video.width or not video.height:
        return 0.0
    if seconds is not None:
        frames = seconds * _frame_rate(video)
    else:
        frames = max(video.frames or 0, (video.duration or info.duration or 0.0) * _frame_rate(video))
    return frames * video.width * video.height


def check_decoding_cost(info: MediaInfo, file_size: int, seconds: float | None = None) -> None:
    """Refuse a source whose picture size, or whose frames x picture size, is absurd for its ``file_size`` in
    bytes (see :data:`MAX_FRAME_PIXELS`, :data:`MAX_PIXELS_PER_BYTE`). ``seconds`` is how much of it the
    target reads (the plan's expected duration), when less than all. Raises :class:`MediaError`."""
    video = info.main_video
    if video is None or not video.width or not video.height:
        return
    if video.width * video.height > MAX_FRAME_PIXELS:
        raise MediaError(
            _("The picture of this video is {width} x {height} pixels, larger than the converter handles."),
            width=video.width,
            height=video.height,
        )
    if decoded_pixels(info, seconds) > max(file_size, 1) * MAX_PIXELS_PER_BYTE:
        raise MediaError(
            _(
                "This file is far too small for the video it claims to hold ({hours} hours of {width} x {height} "
                "pictures in {size} kB); it looks made to overload the converter."
            ),
            hours=round((seconds if seconds is not None else info.duration or 0.0) / 3600, 1),
            width=video.width,
            height=video.height,
            size=math.ceil(file_size / 1024),
        )


def encode_time_limit(plan: Plan, info: MediaInfo, max_minutes: int = 0) -> float:
    """Wall-clock seconds ffmpeg may run for ``plan``: :data:`MIN_TIME_LIMIT` plus the media's duration times
    the encoder's :data:`REALTIME_FACTOR`, scaled up for pictures beyond 1080p; never more than
    ``max_minutes`` (the admin's maximum, 0 = none). Without a known duration only the admin's maximum holds
    (``math.inf`` when there is none)."""
    cap = max_minutes * 60.0 if max_minutes > 0 else math.inf
    seconds = plan.expected_duration if plan.expected_duration is not None else info.duration
    if seconds is None:
        return cap
    target = plan.target
    video = info.main_video
    if target.kind == "video" and target.video is not None and not plan.copy_video:
        factor = REALTIME_FACTOR.get(target.video.encoder, max(REALTIME_FACTOR.values()))
        if video is not None and video.width and video.height:
            factor *= max(1.0, video.width * video.height / (1920 * 1080))
    else:
        factor = COPY_FACTOR
    return min(MIN_TIME_LIMIT + seconds * factor, cap)


def output_size_limit(input_size: int, ratio: int, floor: int = MIN_OUTPUT_BYTES) -> int | None:
    """Bytes the output may grow to: ``ratio`` times the source, at least ``floor``; None when ``ratio`` is 0
    (no limit)."""
    if ratio <= 0:
        return None
    return max(input_size * ratio, floor)
