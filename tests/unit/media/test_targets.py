from __future__ import annotations

import pytest

from ex_app.lib.errors import InvalidRequest
from ex_app.lib.media import TARGETS, JobOptions, get_target


def test_targets_are_listed_in_menu_order_with_their_labels() -> None:
    assert [(t.id, t.label) for t in TARGETS.values()] == [
        ("mp4", "Convert into MP4"),
        ("webm", "Convert into WebM"),
        ("mkv", "Convert into MKV"),
        ("mp3", "Extract audio (MP3)"),
    ]


def test_every_target_is_consistent() -> None:
    for target_id, target in TARGETS.items():
        assert target.id == target_id
        assert target.copy or (target.video is not None) == (target.kind == "video")
        assert target.copy or target.audio is not None
        assert all(m.endswith("/") for m in target.mimes)


def test_extract_audio_is_offered_for_audio_files_too() -> None:
    assert get_target("mp3").mimes == ("video/", "audio/")
    assert get_target("mp4").mimes == ("video/",)


def test_get_target_returns_the_target() -> None:
    assert get_target("webm") is TARGETS["webm"]


def test_unknown_target_names_the_valid_ones() -> None:
    with pytest.raises(InvalidRequest) as caught:
        get_target("avi")
    assert caught.value.user_message == "Unknown target 'avi'; choose one of mp4, webm, mkv, mp3."


def test_job_options_default_to_a_plain_menu_click() -> None:
    assert JobOptions() == JobOptions(quality="normal", max_height=None, audio_bitrate=None)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"quality": "best"},
        {"max_height": 4},
        {"max_height": 100_000},
        {"audio_bitrate": "lots"},
        {"audio_bitrate": "8k"},
    ],
)
def test_job_options_refuse_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest):
        JobOptions(**kwargs)  # type: ignore[arg-type]
