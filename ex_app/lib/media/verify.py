"""Checking a finished output before it is uploaded: pure, from two probes.

ffmpeg exits 0 on some broken inputs — a truncated source "converts" into half its length — so the worker
probes the output and refuses one that is clearly not what the user asked for.
"""

from __future__ import annotations

from ..errors import MediaError
from ..i18n import _
from .plan import Plan
from .probe import MediaInfo
from .targets import Target

MIN_DURATION_RATIO = 0.9
"""An output shorter than this share of the expected duration is broken, not rounding."""


def verify_output(source: MediaInfo, output: MediaInfo, target: Target, plan: Plan) -> None:
    """Raise :class:`MediaError` when ``output`` is clearly broken: a track the plan kept is missing, or it
    lasts less than 90 % of :attr:`Plan.expected_duration` (the source's, or the target's cap)."""
    if target.kind == "video" and not output.video:
        raise MediaError(_("The converted file has no picture; the original may be damaged."))
    if plan.audio and not output.audio:
        raise MediaError(_("The converted file has no sound; the original may be damaged."))
    expected = plan.expected_duration if plan.expected_duration is not None else source.duration
    if expected is None or expected <= 0:
        return
    actual = output.duration or 0.0
    if actual < expected * MIN_DURATION_RATIO:
        raise MediaError(
            _(
                "The converted file lasts {actual} instead of {expected}; "
                "the original is probably damaged or incomplete."
            ),
            actual=_clock(actual),
            expected=_clock(expected),
        )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
