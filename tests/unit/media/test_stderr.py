from __future__ import annotations

import pytest

from ex_app.lib.media._stderr import (
    NOT_ACCEPTED,
    NOT_MEDIA,
    TRUNCATED,
    LineBuffer,
    StderrTail,
    explain_failure,
    looks_like_media,
)


def test_line_buffer_joins_lines_split_across_chunks() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"frame=1\nout_ti") == ["frame=1"]
    assert buffer.feed(b"me_us=5\r\nspeed=1x\rprog") == ["out_time_us=5", "speed=1x"]
    assert buffer.flush() == ["prog"]
    assert buffer.flush() == []


def test_line_buffer_cuts_endless_lines() -> None:
    buffer = LineBuffer(max_line=10)
    buffer.feed(b"x" * 1_000_000)
    assert buffer.feed(b"\n") == ["x" * 10]


def test_stderr_tail_keeps_only_the_last_lines() -> None:
    tail = StderrTail(max_lines=3, max_bytes=1000)
    tail.feed(b"".join(f"line {i}\n".encode() for i in range(100)))
    tail.feed(b"last without newline")
    tail.close()
    assert tail.lines == ["line 98", "line 99", "last without newline"]


def test_stderr_tail_is_bounded_in_bytes() -> None:
    tail = StderrTail(max_lines=1000, max_bytes=100)
    for _ in range(1000):
        tail.feed(b"y" * 30 + b"\n")
    assert sum(len(line) for line in tail.lines) <= 100
    assert tail.text.endswith("y" * 30)


def test_invalid_data_becomes_a_sentence() -> None:
    message = explain_failure(["file:/scratch/17/in.mp4: Invalid data found when processing input"])
    assert message.startswith("This file is not a video or audio file FFmpeg can read")
    assert "/scratch" not in message


def test_missing_moov_atom_wins_over_the_generic_invalid_data() -> None:
    lines = [
        "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d0c0a3c2c0] moov atom not found",
        "file:/x/in.mp4: Invalid data found when processing input",
    ]
    assert "incomplete" in explain_failure(lines)


def test_unknown_errors_quote_the_last_meaningful_lines_without_noise_or_paths() -> None:
    lines = [
        "[libx264 @ 0x5581] something odd happened",
        "[libx264 @ 0x5581] something odd happened",
        "file:/scratch/9/out.mp4: Strange failure",
        "Conversion failed!",
    ]
    assert (
        explain_failure(lines, paths=["/scratch/9/out.mp4"])
        == "FFmpeg could not convert this file: something odd happened; Strange failure"
    )


def test_long_details_are_shortened() -> None:
    assert len(explain_failure(["z" * 5000])) < 400


def test_a_killed_ffmpeg_without_output_is_explained() -> None:
    assert "signal 9" in explain_failure([], returncode=-9)
    assert explain_failure(["Conversion failed!"], returncode=1) == "FFmpeg stopped with an error but did not say why."


def test_a_missing_moov_atom_in_a_file_that_is_no_media_at_all_says_so() -> None:
    lines = ["moov atom not found", "file:/x/in.mp4: Invalid data found when processing input"]
    assert explain_failure(lines, head=bytes(range(256))) == NOT_MEDIA
    assert explain_failure(lines, head=b"\0\0\0\x20ftypisom" + bytes(100)) == TRUNCATED
    assert explain_failure(["file:/x/in.mkv: Invalid data found when processing input"], head=b"hello") == NOT_MEDIA


@pytest.mark.parametrize(
    "head",
    [
        b"\0\0\0\x1cftypmp42",
        b"\x1a\x45\xdf\xa3\x01",
        b"RIFF\0\0\0\0AVI ",
        b"OggS\0",
        b"ID3\x04",
        b"\xff\xfb\x90\x00",
        b"GIF89a",
        (b"\x47" + bytes(187)) * 4,
        (bytes(4) + b"\x47" + bytes(187)) * 4,
    ],
)
def test_containers_the_converter_reads_are_recognised_by_their_start(head: bytes) -> None:
    assert looks_like_media(head)


@pytest.mark.parametrize(
    "head", [b"", b"#EXTM3U\n", b"ffconcat version 1.0\n", b"\x89PNG\r\n\x1a\n", bytes(range(256))]
)
def test_other_files_are_not_taken_for_media(head: bytes) -> None:
    assert not looks_like_media(head)


def test_whitelist_refusals_say_the_file_is_not_accepted() -> None:
    lines = ["[hls @ 0x5] Format not on whitelist 'mov,matroska'", "file:/x/in.mp4: Invalid argument"]
    assert explain_failure(lines) == NOT_ACCEPTED
