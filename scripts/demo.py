"""``make demo``: the ExApp converting a video against the embedded Nextcloud stand-in, start to finish.

It starts the stand-in and the ExApp on loopback, registers and enables the ExApp as AppAPI does, uploads a
video as the user alice, picks "Convert into …" through the AppAPI proxy as the Files UI would, follows the
job, then prints the final job, an ffprobe summary of the output and the notification alice got.

    python scripts/demo.py [--video PATH] [--target mp4] [--ui [--port 8080]]

Exits 0 when the job completed, 1 when it failed or was cancelled (the job is printed either way). With ``--ui``
(``make demo UI=1``) everything keeps running afterwards, the stand-in on a fixed port, and one line says which
page to open in a browser and how to log in; Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.harness import ExAppProcess, standin_target  # noqa: E402
from tests.integration.jobs_helpers import action_entry, get_job, probe_remote, trigger  # noqa: E402
from tests.media import make_video, summary  # noqa: E402


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def follow(nextcloud, job_id: int, timeout: float) -> dict:
    """Poll the job through the proxy as a script would, printing each change of status or progress."""
    deadline, last = time.monotonic() + timeout, None
    while True:
        job = get_job(nextcloud, "alice", job_id)
        shown = (job["status"], int(job["progress"]))
        if shown != last:
            print(f"    job {job_id}: {job['status']:<10} {job['progress']:5.1f} %", flush=True)
            last = shown
        if job["status"] in {"completed", "failed", "cancelled"}:
            return job
        if time.monotonic() > deadline:
            return job
        time.sleep(0.3)


def keep_running(nextcloud, remote_id: int) -> int:
    """Leave the stand-in and the ExApp up for a browser until Ctrl-C."""
    page = f"{nextcloud.url}/index.php/apps/app_api/embedded/video_converter_fm/conversions?fileIds={remote_id}"
    user = nextcloud.alice
    # Ctrl-C, and also a plain kill: both end in the caller's cleanup (unregister, stop the ExApp and the stand-in).
    # SIGINT is set explicitly because a shell starting us in the background leaves it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"Open {page} and log in as {user.name} / {user.password}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print(flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, help="a video to convert (default: a generated 30 s sample)")
    parser.add_argument("--target", default="mp4", help="target id, see GET /api/targets (default: mp4)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--ui", action="store_true", help="keep running and show the Conversions page's URL")
    parser.add_argument("--port", type=int, default=8080, help="the stand-in's port with --ui (default: 8080)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="vcfm-demo-") as tmp:
        work = Path(tmp)
        if args.video:
            video = args.video.resolve()
            if not video.is_file():
                print(f"demo: {video} is not a file", file=sys.stderr)
                return 2
        else:
            # MPEG-4 Part 2 video, as old cameras wrote it: converting it to MP4 means a real H.264 encode.
            say("Generating a 30 s sample video with ffmpeg (lavfi): MPEG-4 Part 2 + AAC in Matroska")
            video = make_video(work / "sample.mkv", seconds=30, size="640x360", codec="mpeg4", extra=("-q:v", "3"))

        say("Starting the Nextcloud stand-in")
        try:
            nextcloud = standin_target(args.port if args.ui else None)
        except (OSError, RuntimeError, SystemExit) as exc:
            print(f"demo: the stand-in could not listen on port {args.port} ({exc}); try PORT=8081", file=sys.stderr)
            return 2
        exapp = ExAppProcess(nextcloud, work / "exapp")
        try:
            say(f"Starting the ExApp on {exapp.url}")
            exapp.start()
            say("occ app_api:app:register video_converter_fm manual_install --json-info … --wait-finish")
            exapp.register()
            actions = [a["display_name"] for a in nextcloud.file_actions("alice") if a["appid"] == "video_converter_fm"]
            print(f"    Files actions alice sees: {', '.join(actions)}")

            remote = f"/Demo/{video.name}"
            say(f"Uploading {video.name} as alice to {remote}")
            nextcloud.mkdir("alice", "/Demo")
            nextcloud.upload("alice", remote, video)

            say(f"alice picks the '{args.target}' action on {video.name} (POST …/proxy/video_converter_fm/api/actions)")
            answer = trigger(nextcloud, "alice", args.target, [action_entry(nextcloud, "alice", remote)])
            print("    " + json.dumps(answer))
            if not answer["jobs"]:
                print("demo: no job was created", file=sys.stderr)
                return 1
            job_id = answer["jobs"][0]["job_id"]

            say("Following the job (GET …/api/jobs/{id})")
            job = follow(nextcloud, job_id, args.timeout)
            say("The job")
            print(json.dumps(job, indent=2))
            if job["status"] == "completed":
                say(f"ffprobe of {job['output']['path']}")
                info = probe_remote(nextcloud, "alice", job["output"]["path"], work)
                print(json.dumps(summary(info), indent=2))
            say("alice's notifications")
            for note in nextcloud.notifications("alice"):
                print(f"    {note['subject']} — {note['message']} ({note['link'] or 'no link'})")
            if args.ui:
                return keep_running(nextcloud, remote_id=nextcloud.file_id("alice", remote))
            return 0 if job["status"] == "completed" else 1
        except Exception as exc:
            print(f"demo: {exc}", file=sys.stderr)
            print("---- ExApp log ----\n" + exapp.log()[-4000:], file=sys.stderr)
            return 1
        finally:
            say("Stopping everything")
            exapp.unregister()
            exapp.stop()
            nextcloud.close()
            if nextcloud.standin is not None:
                nextcloud.standin.stop()
                nextcloud.standin.state.close()


if __name__ == "__main__":
    sys.exit(main())
