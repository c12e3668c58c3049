"""ffmpeg and ffprobe behind one boundary: targets, probing, planning, command building, progress, running.

Planning, naming, building commands, checking outputs and parsing progress are pure (:mod:`.plan`,
:mod:`.naming`, :mod:`.command`, :mod:`.verify`, :mod:`.progress`); only :mod:`.probe` and :mod:`.runner`
start processes, and they map every failure to :class:`~ex_app.lib.errors.MediaError`.

The worker's order: ``probe`` → ``check_compatible`` → ``make_plan`` → ``check_decoding_cost`` →
``build_command(plan=…)`` → ``run_ffmpeg(duration=plan.expected_duration, time_limit=encode_time_limit(…),
max_output_bytes=output_size_limit(…))`` → ``probe`` the output → ``verify_output`` → upload as
``output_stem(…)`` + ``output_extension(…)``, with ``plan.notes`` stored on the job.
"""

from ._process import ProcessLimits
from .command import build_command, check_compatible
from .limits import check_decoding_cost, encode_time_limit, output_size_limit
from .naming import output_extension, output_stem, resolve_target
from .plan import AudioPlan, Plan, SubtitlePlan, make_plan
from .probe import AudioStream, MediaInfo, SubtitleStream, VideoStream, parse_ffprobe, probe
from .progress import Progress, ProgressParser
from .runner import run_ffmpeg
from .targets import MAX_HEIGHTS, QUALITIES, TARGETS, JobOptions, Target, get_target
from .verify import verify_output

__all__ = [
    "MAX_HEIGHTS",
    "QUALITIES",
    "TARGETS",
    "AudioPlan",
    "AudioStream",
    "JobOptions",
    "MediaInfo",
    "Plan",
    "ProcessLimits",
    "Progress",
    "ProgressParser",
    "SubtitlePlan",
    "SubtitleStream",
    "Target",
    "VideoStream",
    "build_command",
    "check_compatible",
    "check_decoding_cost",
    "encode_time_limit",
    "get_target",
    "make_plan",
    "output_extension",
    "output_size_limit",
    "output_stem",
    "parse_ffprobe",
    "probe",
    "resolve_target",
    "run_ffmpeg",
    "verify_output",
]
