"""ffmpeg and ffprobe behind one boundary: targets, probing, command building, progress parsing, running.

Building commands and parsing progress are pure (:mod:`.command`, :mod:`.progress`); only :mod:`.probe` and
:mod:`.runner` start processes, and they map every failure to :class:`~ex_app.lib.errors.MediaError`.
"""

from .command import build_command, check_compatible
from .probe import AudioStream, MediaInfo, SubtitleStream, VideoStream, parse_ffprobe, probe
from .progress import Progress, ProgressParser
from .runner import run_ffmpeg
from .targets import TARGETS, JobOptions, Target, get_target

__all__ = [
    "TARGETS",
    "AudioStream",
    "JobOptions",
    "MediaInfo",
    "Progress",
    "ProgressParser",
    "SubtitleStream",
    "Target",
    "VideoStream",
    "build_command",
    "check_compatible",
    "get_target",
    "parse_ffprobe",
    "probe",
    "run_ffmpeg",
]
