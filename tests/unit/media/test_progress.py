from __future__ import annotations

from ex_app.lib.media import Progress, ProgressParser

# What ffmpeg 5.1 prints with -progress pipe:1 (trimmed to the keys that matter, plus some it adds).
RECORDED = """\
frame=0
fps=0.00
stream_0_0_q=0.0
bitrate=N/A
total_size=48
out_time_us=N/A
out_time_ms=N/A
out_time=N/A
dup_frames=0
drop_frames=0
speed=N/A
progress=continue
frame=25
fps=24.5
bitrate=  10.1kbits/s
total_size=1262
out_time_us=1000000
out_time_ms=1000000
out_time=00:00:01.000000
speed=0.98x
progress=continue
frame=100
out_time_us=4000000
out_time_ms=4000000
out_time=00:00:04.000000
speed=1.96x
progress=end
"""


def test_recorded_output_gives_one_update_per_block() -> None:
    assert ProgressParser(duration=4.0).feed_lines(RECORDED) == [
        Progress(out_time_seconds=None, percent=None, speed=None, done=False, total_size=48),
        Progress(out_time_seconds=1.0, percent=25.0, speed=0.98, done=False, total_size=1262),
        Progress(out_time_seconds=4.0, percent=100.0, speed=1.96, done=True),
    ]


def test_the_output_size_is_read_and_n_a_is_unknown() -> None:
    parser = ProgressParser(duration=None)
    assert [
        u.total_size for u in parser.feed_lines("total_size=N/A\nprogress=continue\ntotal_size=9\nprogress=end")
    ] == [None, 9]


def test_unknown_duration_gives_time_but_no_percent_until_the_end() -> None:
    updates = ProgressParser(duration=None).feed_lines(RECORDED)
    assert [u.percent for u in updates] == [None, None, 100.0]
    assert updates[1].out_time_seconds == 1.0


def test_zero_duration_counts_as_unknown() -> None:
    assert ProgressParser(duration=0).feed_lines("out_time_us=5\nprogress=continue")[0].percent is None


def test_out_time_ms_is_microseconds_too() -> None:
    (update,) = ProgressParser(duration=10).feed_lines("out_time_ms=2500000\nprogress=continue")
    assert update.out_time_seconds == 2.5
    assert update.percent == 25.0


def test_clock_form_is_used_when_the_counters_are_missing() -> None:
    (update,) = ProgressParser(duration=7200).feed_lines("out_time=01:00:00.500000\nprogress=continue")
    assert update.out_time_seconds == 3600.5


def test_percent_is_clamped_to_0_100() -> None:
    updates = ProgressParser(duration=2).feed_lines(
        "out_time_us=-23220\nprogress=continue\nout_time=-00:00:00.023220\nprogress=continue\n"
        "out_time_us=2100000\nprogress=continue"
    )
    assert [u.percent for u in updates] == [0.0, 0.0, 100.0]
    assert [u.out_time_seconds for u in updates] == [0.0, 0.0, 2.1]


def test_garbage_lines_are_ignored() -> None:
    parser = ProgressParser(duration=10)
    for junk in ["", "   ", "hello", "=5", "out_time_us=abc", "speed=fastx", "out_time=1:2", "\x00\xff"]:
        assert parser.feed(junk) is None
    update = parser.feed("progress=continue")
    assert update == Progress(out_time_seconds=None, percent=None, speed=None, done=False)


def test_values_do_not_leak_from_one_block_into_the_next() -> None:
    updates = ProgressParser(duration=10).feed_lines("out_time_us=1000000\nprogress=continue\nprogress=continue")
    assert [u.out_time_seconds for u in updates] == [1.0, None]


def test_whitespace_around_values_is_tolerated() -> None:
    (update,) = ProgressParser(duration=10).feed_lines("speed=  12.5x \nout_time_us= 5000000\r\nprogress=continue")
    assert (update.speed, update.percent) == (12.5, 50.0)
