"""The bounds on one file's work, as pure functions: decompression bombs, the wall-clock limit, the output cap."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from ex_app.lib.errors import MediaError
from ex_app.lib.media import get_target, make_plan
from ex_app.lib.media.limits import (
    MIN_OUTPUT_BYTES,
    MIN_TIME_LIMIT,
    check_decoding_cost,
    decoded_pixels,
    encode_time_limit,
    output_size_limit,
)
from ex_app.lib.media.probe import AudioStream, MediaInfo, VideoStream

MB = 1024 * 1024


def video(width: int, height: int, duration: float, *, rate: float = 25.0, fps: float | None = None, **kw) -> MediaInfo:
    stream = VideoStream(
        index=0, codec="h264", width=width, height=height, fps=fps or rate, frame_rate=rate, duration=duration, **kw
    )
    return MediaInfo(duration=duration, format_name="mov", video=(stream,), audio=(AudioStream(1, "aac"),))


# ---- decompression bombs ----------------------------------------------------------------------------------------


def test_a_picture_beyond_8k_is_refused_whatever_the_file_size() -> None:
    with pytest.raises(MediaError) as caught:
        check_decoding_cost(video(16000, 16000, 5.0), 26_000)
    assert caught.value.user_message == (
        "The picture of this video is 16000 x 16000 pixels, larger than the converter handles."
    )
    check_decoding_cost(video(7680, 4320, 5.0), 26_000_000)  # 8K UHD is fine


def test_a_few_kilobytes_claiming_hours_of_video_are_refused() -> None:
    # What ffprobe says of tests.hostile.endless_gif made from a 6.5 kB solid 720p GIF of 50 frames.
    bomb = video(1280, 720, 32767.5, rate=20 / 3, fps=20 / 13107, frames=50)
    with pytest.raises(MediaError) as caught:
        check_decoding_cost(bomb, 6582)
    assert caught.value.message_id.startswith("This file is far too small for the video it claims to hold")
    assert caught.value.params == {"hours": 9.1, "width": 1280, "height": 720, "size": 7}


def test_the_same_file_cut_to_30_seconds_by_its_target_is_fine() -> None:
    bomb = video(1280, 720, 32767.5, rate=20 / 3, fps=20 / 13107, frames=50)
    check_decoding_cost(bomb, 6582, seconds=30.0)


@pytest.mark.parametrize(
    ("info", "size"),
    [
        (video(1920, 1080, 3600.0, rate=30), 1_800 * MB),  # an hour of 1080p at 4 Mbit/s
        (video(1920, 1080, 60.0, rate=30), 151_104),  # a black 1080p minute from x264 (measured)
        (video(1920, 1080, 3600.0, frames=1), 57 * MB),  # a podcast: one picture, an hour of sound
        (video(1920, 1080, 600.0, rate=1000, fps=30), 20 * MB),  # VFR phone video with a timebase-like r_frame_rate
    ],
)
def test_real_videos_pass(info: MediaInfo, size: int) -> None:
    check_decoding_cost(info, size)


def test_the_frame_count_counts_when_it_is_larger_than_the_duration_says() -> None:
    info = video(100, 100, 1.0, frames=1_000_000)
    assert decoded_pixels(info) == 1_000_000 * 100 * 100


def test_audio_only_and_sizeless_streams_are_not_judged() -> None:
    check_decoding_cost(MediaInfo(duration=1e6, format_name="mp3", audio=(AudioStream(0, "mp3"),)), 1)
    check_decoding_cost(replace(video(1, 1, 1e6), video=(VideoStream(0, "h264"),)), 1)


# ---- wall-clock limit -------------------------------------------------------------------------------------------


def test_the_time_limit_grows_with_duration_encoder_and_picture_size() -> None:
    hd, uhd = video(1920, 1080, 60.0), video(3840, 2160, 60.0)
    mp4, hevc = get_target("mp4"), get_target("mp4_hevc")
    assert encode_time_limit(make_plan(mp4, hd), hd) == MIN_TIME_LIMIT + 60 * 30
    assert encode_time_limit(make_plan(hevc, hd), hd) == MIN_TIME_LIMIT + 60 * 80
    assert encode_time_limit(make_plan(hevc, uhd), uhd) == MIN_TIME_LIMIT + 60 * 80 * 4
    assert encode_time_limit(make_plan(get_target("mp3"), hd), hd) == MIN_TIME_LIMIT + 60 * 5


def test_the_admins_maximum_caps_the_time_limit() -> None:
    long = video(1920, 1080, 7200.0)
    plan = make_plan(get_target("mp4_hevc"), long)
    assert encode_time_limit(plan, long, max_minutes=60) == 3600
    assert encode_time_limit(plan, long, max_minutes=0) == MIN_TIME_LIMIT + 7200 * 80


def test_without_a_duration_only_the_admins_maximum_holds() -> None:
    unknown = replace(video(640, 480, 1.0), duration=None, video=(VideoStream(0, "h264", 640, 480),))
    plan = replace(make_plan(get_target("mp4"), unknown), expected_duration=None)
    assert encode_time_limit(plan, unknown, max_minutes=30) == 1800
    assert encode_time_limit(plan, unknown) == math.inf


# ---- output size ------------------------------------------------------------------------------------------------


def test_the_output_may_grow_to_a_multiple_of_the_source_and_at_least_256_mb() -> None:
    assert output_size_limit(1000 * MB, 10) == 10_000 * MB
    assert output_size_limit(5 * MB, 10) == MIN_OUTPUT_BYTES == 256 * MB
    assert output_size_limit(5 * MB, 0) is None
    assert output_size_limit(5 * MB, 2, floor=1 * MB) == 10 * MB
