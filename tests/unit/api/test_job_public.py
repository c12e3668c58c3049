"""A job's error and notes reach API readers in their own language, with the English kept beside them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from ex_app.lib.api.schemas import JobPublic
from ex_app.lib.i18n import Message
from ex_app.lib.jobs import JobListing, JobRecord, JobStatus

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def failed_job(**changes: object) -> JobRecord:
    error = Message(
        "{reason} (gave up after {count} attempts)", reason=Message("Conversion failed: {file}", file="a"), count=3
    )
    values: dict[str, object] = {
        "id": 1, "user_id": "alice", "file_id": 5, "source_path": "/a.mov", "source_etag": None, "target": "mp4",
        "options": {}, "status": JobStatus.FAILED, "progress": 0.0, "created_at": T0, "queue_at": T0,
        "started_at": T0, "finished_at": T0, "updated_at": T0, "error_message": str(error),
        "error_ref": error.to_json(), "retry_count": 2, "not_before": None, "output_path": None,
        "output_file_id": None, "language": "en",
        "notes": ({"id": "The video was copied without re-encoding, so its quality is unchanged.", "params": {}},),
        "lease_owner": None, "lease_expires_at": None, "kept_output": None,
    }  # fmt: skip
    known = {f.name for f in dataclasses.fields(JobRecord)}
    values = {k: v for k, v in values.items() if k in known}
    values.update(changes)
    missing = known - values.keys()
    assert not missing, f"update this test's record for the new fields {missing}"
    return JobRecord(**values)  # type: ignore[arg-type]


def test_error_and_notes_are_rendered_in_the_readers_language_with_the_english_kept():
    french = JobPublic.of(failed_job(), language="fr")
    assert french.error_message == "Échec de la conversion : a (abandon après 3 tentatives)"
    assert french.error_message_en == "Conversion failed: a (gave up after 3 attempts)"
    assert french.notes == ["La vidéo a été copiée sans ré-encodage, sa qualité est donc inchangée."]
    assert french.notes_en == ["The video was copied without re-encoding, so its quality is unchanged."]
    german = JobPublic.of(failed_job(), language="de-DE")
    assert german.error_message == "Umwandlung fehlgeschlagen: a (nach 3 Versuchen aufgegeben)"


def test_a_row_written_before_message_ids_shows_its_stored_english_text():
    old = JobPublic.of(
        failed_job(error_ref=None, error_message="ffmpeg said no", notes=("kept as it was",)), language="fr"
    )
    assert (old.error_message, old.error_message_en, old.notes) == (
        "ffmpeg said no",
        "ffmpeg said no",
        ["kept as it was"],
    )


def test_the_job_lists_listing_shows_a_job_exactly_as_its_whole_record_does():
    jobs = [
        failed_job(),
        failed_job(
            status=JobStatus.COMPLETED, error_message=None, error_ref=None, output_path="/a.mp4", output_file_id=9
        ),
        failed_job(status=JobStatus.PROCESSING, progress=42.04, error_message=None, error_ref=None, finished_at=None),
    ]
    for job in jobs:
        listing = JobListing(**{f.name: getattr(job, f.name) for f in dataclasses.fields(JobListing)})
        for language in ("en", "fr"):
            assert JobPublic.of(listing, language=language, now=T0) == JobPublic.of(job, language=language, now=T0)
