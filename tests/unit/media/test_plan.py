"""The remux-or-encode decision and the notes, on hand-made :class:`MediaInfo` (ffprobe's view of a file)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ex_app.lib.media import JobOptions, MediaInfo, get_target, make_plan
from ex_app.lib.media.plan import AudioPlan, SubtitlePlan
from ex_app.lib.media.probe import AudioStream, SubtitleStream, VideoStream

H264 = VideoStream(index=0, codec="h264", width=1920, height=1080, pix_fmt="yuv420p", fps=30.0)
AAC = AudioStream(index=1, codec="aac", channels=2)
MOV = MediaInfo(duration=60.0, format_name="mov,mp4,m4a,3gp,3g2,mj2", video=(H264,), audio=(AAC,))


def with_video(**changes: object) -> MediaInfo:
    return replace(MOV, video=(replace(H264, **changes),))


@pytest.mark.parametrize(
    ("target_id", "info", "options", "copy_video", "copy_audio"),
    [
        ("mp4", MOV, JobOptions(), True, True),
        ("mov", MOV, JobOptions(), True, True),
        ("m4v", MOV, JobOptions(), True, True),
        ("mkv", MOV, JobOptions(), True, True),
        ("mp4", MOV, JobOptions(max_height=1080), True, True),  # already within: nothing to scale
        ("mp4", MOV, JobOptions(max_height=720), False, True),
        ("mp4", MOV, JobOptions(quality="high"), False, False),
        ("mp4", MOV, JobOptions(audio_bitrate="256k"), True, False),
        ("mp4", with_video(pix_fmt="yuv420p10le"), JobOptions(), False, True),  # High 10 plays almost nowhere
        ("mp4", with_video(pix_fmt="yuv444p"), JobOptions(), False, True),
        ("mp4", with_video(codec="hevc"), JobOptions(), False, True),
        ("mp4_hevc", with_video(codec="hevc", pix_fmt="yuv420p10le"), JobOptions(), True, True),
        ("mp4_hevc", MOV, JobOptions(), False, True),
        ("mp4", with_video(rotation=90), JobOptions(), True, True),  # MP4 stores the rotation
        ("mkv", with_video(rotation=90), JobOptions(), False, True),  # Matroska (in ffmpeg 5.1) does not
        ("mkv", with_video(codec="prores", pix_fmt="yuv422p10le"), JobOptions(), True, True),
        ("webm", MOV, JobOptions(), False, False),
        (
            "webm",
            replace(MOV, video=(replace(H264, codec="vp9"),), audio=(replace(AAC, codec="opus"),)),
            JobOptions(),
            True,
            True,
        ),
        ("avi", MOV, JobOptions(), False, False),
        ("gif", with_video(codec="gif", pix_fmt="bgra"), JobOptions(), False, False),
        ("compress", MOV, JobOptions(), False, False),  # compress never remuxes
    ],
)
def test_streams_are_copied_only_when_the_container_plays_them_and_nothing_asks_for_a_change(
    target_id: str, info: MediaInfo, options: JobOptions, copy_video: bool, copy_audio: bool
) -> None:
    plan = make_plan(get_target(target_id), info, options, source_name="in.mov")
    assert plan.copy_video == copy_video
    assert [a.copy for a in plan.audio] == ([copy_audio] if plan.target.audio else [])


@pytest.mark.parametrize(
    ("target_id", "audio_codec", "copy"),
    [("mp3", "mp3", True), ("mp3", "aac", False), ("m4a", "aac", True), ("opus", "opus", True), ("opus", "aac", False)],
)
def test_audio_extraction_copies_a_track_already_in_the_right_codec(
    target_id: str, audio_codec: str, copy: bool
) -> None:
    plan = make_plan(get_target(target_id), replace(MOV, audio=(replace(AAC, codec=audio_codec),)))
    assert (plan.video, [a.copy for a in plan.audio], plan.remux) == (None, [copy], copy)


def test_a_remux_says_so_and_a_video_copy_says_so() -> None:
    assert make_plan(get_target("mp4"), MOV).notes == (
        "Nothing was re-encoded: the streams were copied into the new file, so the quality is unchanged.",
    )
    plan = make_plan(get_target("mp4"), replace(MOV, audio=(replace(AAC, codec="ac3", channels=6),)))
    assert plan.notes == ("The video was copied without re-encoding, so its quality is unchanged.",)


def test_every_audio_track_is_decided_on_its_own() -> None:
    info = replace(MOV, audio=(AAC, AudioStream(index=2, codec="ac3", channels=6)))
    assert make_plan(get_target("mov"), info).audio == (AudioPlan(1, True, 2), AudioPlan(2, False, 6))


def test_containers_with_one_audio_track_keep_the_default_and_say_so() -> None:
    info = replace(MOV, audio=(AAC, AudioStream(index=2, codec="mp3", channels=2, default=True)))
    plan = make_plan(get_target("avi"), info)
    assert plan.audio == (AudioPlan(2, True, 2),)  # MP3 already: copied
    assert "Only audio track 2 of 2 was kept: AVI holds one audio track." in plan.notes


SUBS = replace(
    MOV,
    subtitles=(
        SubtitleStream(index=2, codec="subrip"),
        SubtitleStream(index=3, codec="hdmv_pgs_subtitle"),
        SubtitleStream(index=4, codec="mov_text"),
        SubtitleStream(index=5, codec="arib_caption"),
    ),
)


@pytest.mark.parametrize(
    ("target_id", "kept", "notes"),
    [
        ("mp4", [(2, "mov_text"), (4, None)], [
            "Subtitle track 2 (hdmv_pgs_subtitle) was dropped: MP4 cannot hold picture subtitles.",
            "Subtitle track 4 (arib_caption) was dropped: it cannot be converted for MP4.",
        ]),
        ("m4v", [(2, "mov_text"), (4, None)], [
            "Subtitle track 2 (hdmv_pgs_subtitle) was dropped: M4V cannot hold picture subtitles.",
            "Subtitle track 4 (arib_caption) was dropped: it cannot be converted for M4V.",
        ]),
        ("webm", [(2, "webvtt"), (4, "webvtt")], [
            "Subtitle track 2 (hdmv_pgs_subtitle) was dropped: WebM cannot hold picture subtitles.",
            "Subtitle track 4 (arib_caption) was dropped: it cannot be converted for WebM.",
        ]),
        ("mkv", [(2, None), (3, None), (4, "srt")], [
            "Subtitle track 4 (arib_caption) was dropped: it cannot be converted for MKV.",
        ]),
        ("avi", [], [f"Subtitle track {n} ({c}) was dropped: AVI cannot hold subtitles." for n, c in [
            (1, "subrip"), (2, "hdmv_pgs_subtitle"), (3, "mov_text"), (4, "arib_caption")]]),
        ("mp3", [], []),  # extracting audio leaves subtitles out without a word
    ],
)  # fmt: skip
def test_subtitles_are_kept_converted_or_dropped_with_a_note_never_failing(
    target_id: str, kept: list[tuple[int, str | None]], notes: list[str]
) -> None:
    plan = make_plan(get_target(target_id), SUBS)
    assert plan.subtitles == tuple(SubtitlePlan(i, e) for i, e in kept)
    assert [n for n in plan.notes if n.startswith("Subtitle")] == notes


def test_gif_converts_only_the_first_30_seconds_and_says_so() -> None:
    plan = make_plan(get_target("gif"), MOV)
    assert (plan.max_duration, plan.expected_duration, plan.audio, plan.subtitles) == (30, 30, (), ())
    assert plan.notes == (
        "GIF has no sound, so the audio was left out.",
        "Only the first 30 seconds were converted (GIF limit).",
    )
    short = make_plan(get_target("gif"), replace(MOV, duration=12.5, audio=()))
    assert (short.expected_duration, short.notes) == (12.5, ())


def test_lost_colour_depth_rotation_chapters_and_extra_video_tracks_are_noted() -> None:
    info = replace(
        MOV,
        video=(replace(H264, pix_fmt="yuv420p10le", rotation=90), VideoStream(index=7, codec="h264")),
        chapters=3,
    )
    assert make_plan(get_target("avi"), info).notes == (
        "Only the main video track was converted; 1 more were left out.",
        "The picture was converted from yuv420p10le to 8-bit 4:2:0 colour, which every player shows.",
        "The picture was turned upright (the phone had recorded it sideways).",
        "The chapters were dropped: AVI cannot hold chapters.",
    )


def test_compress_resolves_the_container_from_the_source_name() -> None:
    plan = make_plan(get_target("compress"), MOV, source_name="Clip.webm")
    assert (plan.target.id, plan.target.muxer, plan.target.extension, plan.notes) == ("compress", "webm", "webm", ())
