from __future__ import annotations

from ex_app.lib.media._stderr import LineBuffer, StderrTail, explain_failure


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
