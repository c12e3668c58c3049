from __future__ import annotations

from typing import Any

import pytest

from ex_app.lib.errors import InvalidRequest
from ex_app.lib.media import TARGETS, JobOptions, get_target


def test_targets_are_listed_in_menu_order_with_their_labels_and_extensions() -> None:
    assert [(t.id, t.label, t.extension, t.kind) for t in TARGETS.values()] == [
        ("mp4", "Convert into MP4", "mp4", "video"),
        ("mp4_hevc", "Convert into MP4 (HEVC)", "mp4", "video"),
        ("webm", "Convert into WebM", "webm", "video"),
        ("mkv", "Convert into MKV", "mkv", "video"),
        ("mov", "Convert into MOV", "mov", "video"),
        ("avi", "Convert into AVI", "avi", "video"),
        ("m4v", "Convert into M4V", "m4v", "video"),
        ("gif", "Convert into animated GIF", "gif", "video"),
        ("mp3", "Extract audio (MP3)", "mp3", "audio"),
        ("m4a", "Extract audio (M4A)", "m4a", "audio"),
        ("opus", "Extract audio (Opus)", "opus", "audio"),
        ("compress", "Compress (same format)", "", "video"),
    ]


def test_every_target_is_consistent() -> None:
    for target_id, target in TARGETS.items():
        assert target.id == target_id
        assert all(m.endswith("/") for m in target.mimes)
        if target.same_format:
            continue  # resolved per source; see test_naming
        assert (target.video is not None) == (target.kind == "video")
        assert target.audio is not None or target.id == "gif"
        assert target.muxer and target.extension


def test_extract_audio_is_offered_for_audio_files_too() -> None:
    assert {t.id for t in TARGETS.values() if "audio/" in t.mimes} == {"mp3", "m4a", "opus"}
    assert get_target("mp4").mimes == ("video/",)


def test_get_target_returns_the_target() -> None:
    assert get_target("webm") is TARGETS["webm"]


def test_unknown_target_names_the_valid_ones() -> None:
    with pytest.raises(InvalidRequest) as caught:
        get_target("flv")
    assert caught.value.user_message == (
        "Unknown target 'flv'; choose one of mp4, mp4_hevc, webm, mkv, mov, avi, m4v, gif, mp3, m4a, opus, compress."
    )


def test_job_options_default_to_a_plain_menu_click() -> None:
    assert JobOptions() == JobOptions(quality="normal", max_height=None, audio_bitrate=None)
    assert JobOptions.from_dict(None) == JobOptions.from_dict({}) == JobOptions()


def test_job_options_round_trip_through_json_objects() -> None:
    options = JobOptions(quality="small", max_height=720, audio_bitrate="96k")
    assert options.to_dict() == {"quality": "small", "max_height": 720, "audio_bitrate": "96k"}
    assert JobOptions.from_dict(options.to_dict()) == options
    assert JobOptions.from_dict({"max_height": None}) == JobOptions()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"quality": "best"}, "options.quality: must be one of high, normal, small"),
        ({"quality": 1}, "options.quality: must be one of high, normal, small"),
        ({"max_height": 4}, "options.max_height: must be one of 2160, 1080, 720, 480, or null to keep the size"),
        ({"max_height": 1000}, "options.max_height: must be one of 2160, 1080, 720, 480, or null to keep the size"),
        ({"max_height": "720"}, "options.max_height: must be one of 2160, 1080, 720, 480, or null to keep the size"),
        ({"max_height": 720.0}, "options.max_height: must be one of 2160, 1080, 720, 480, or null to keep the size"),
        ({"max_height": True}, "options.max_height: must be one of 2160, 1080, 720, 480, or null to keep the size"),
        ({"audio_bitrate": "lots"}, "options.audio_bitrate: must look like '128k', between 32k and 512k"),
        ({"audio_bitrate": "8k"}, "options.audio_bitrate: must look like '128k', between 32k and 512k"),
        ({"audio_bitrate": 128}, "options.audio_bitrate: must look like '128k', between 32k and 512k"),
        (
            {"quality": "high", "speed": "fast"},
            "options.speed: unknown option; known are quality, max_height, audio_bitrate",
        ),
        (["quality"], "options: must be an object"),
    ],
)
def test_job_options_refuse_nonsense_naming_the_field(data: Any, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        JobOptions.from_dict(data)
    assert caught.value.user_message == message
    assert caught.value.status_code == 400
