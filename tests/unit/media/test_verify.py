from __future__ import annotations

from dataclasses import replace

import pytest

from ex_app.lib.errors import MediaError
from ex_app.lib.media import MediaInfo, get_target, make_plan, verify_output
from ex_app.lib.media.probe import AudioStream, VideoStream

SOURCE = MediaInfo(
    duration=100.0,
    format_name="mov,mp4,m4a,3gp,3g2,mj2",
    video=(VideoStream(index=0, codec="h264", width=640, height=360, pix_fmt="yuv420p"),),
    audio=(AudioStream(index=1, codec="aac", channels=2),),
)


def check(target_id: str, output: MediaInfo, source: MediaInfo = SOURCE) -> None:
    target = get_target(target_id)
    verify_output(source, output, target, make_plan(target, source))


def test_a_complete_output_passes() -> None:
    check("mp4", replace(SOURCE, duration=99.95))
    check("mp4", replace(SOURCE, duration=90.0))


def test_a_truncated_output_is_refused_with_both_durations() -> None:
    with pytest.raises(MediaError) as caught:
        check("mp4", replace(SOURCE, duration=50.0))
    assert caught.value.user_message == (
        "The converted file lasts 0:50 instead of 1:40; the original is probably damaged or incomplete."
    )


def test_gif_is_measured_against_its_30_second_cap() -> None:
    gif = MediaInfo(duration=30.0, format_name="gif", video=(VideoStream(index=0, codec="gif"),))
    check("gif", gif)
    with pytest.raises(MediaError, match="lasts 0:10 instead of 0:30"):
        check("gif", replace(gif, duration=10.0))


def test_missing_picture_or_sound_is_refused() -> None:
    with pytest.raises(MediaError, match="no picture"):
        check("mp4", replace(SOURCE, video=()))
    with pytest.raises(MediaError, match="no sound"):
        check("mp4", replace(SOURCE, audio=()))
    with pytest.raises(MediaError, match="no sound"):
        check("mp3", replace(SOURCE, video=(), audio=()))


def test_an_unknown_duration_is_not_held_against_the_output() -> None:
    check("mp4", replace(SOURCE, duration=None), source=replace(SOURCE, duration=None))
