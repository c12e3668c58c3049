from ex_app.lib.i18n import language_from_header, translate


def test_notifications_are_translated_into_the_language_the_job_remembered():
    assert translate("de", "Conversion finished: {file}", file="a.mp4") != "Conversion finished: a.mp4"
    assert "a.mp4" in translate("de-DE", "Conversion finished: {file}", file="a.mp4")


def test_unknown_languages_fall_back_to_english():
    assert translate("xx", "Conversion finished: {file}", file="a.mp4") == "Conversion finished: a.mp4"


def test_language_comes_from_the_first_accept_language_entry():
    assert language_from_header("de-DE,de;q=0.9,en;q=0.8") == "de-DE"
    assert language_from_header(None) == "en"


def test_a_message_is_its_english_text_and_renders_nested_messages_in_the_readers_language():
    from ex_app.lib.i18n import Message

    message = Message(
        "{file} could not be converted: {reason}", file="a.mp4", reason=Message("Conversion failed: {file}", file="b")
    )
    assert message == "a.mp4 could not be converted: Conversion failed: b"
    assert message.render("fr") == "a.mp4 n'a pas pu être converti : Échec de la conversion : b"
    assert Message.from_stored(message.to_json()).render("de") == message.render("de")
    assert Message.from_stored(message.as_dict()) == message


def test_an_error_carries_its_message_id_for_the_job_store():
    from ex_app.lib.errors import PermanentJobError

    error = PermanentJobError("Conversion failed: {file}", file="a.mp4")
    assert str(error) == error.user_message == "Conversion failed: a.mp4"
    assert error.user_message.id == "Conversion failed: {file}"
    assert error.user_message.render("fr") == "Échec de la conversion : a.mp4"


def test_a_message_whose_parameters_do_not_fit_is_shown_as_its_template_never_raising():
    from ex_app.lib.i18n import Message

    assert Message("Conversion failed: {file}", other="x").render("fr") == "Conversion failed: {file}"


def test_what_was_being_done_is_translated_inside_a_nextcloud_error():
    from nc_py_api import NextcloudException

    from ex_app.lib.errors import PermissionDenied
    from ex_app.lib.i18n import _
    from ex_app.lib.nextcloud.gateway import mapped_errors

    try:
        with mapped_errors(_("uploading the result")):
            raise NextcloudException(403, reason="Forbidden")
    except PermissionDenied as exc:
        assert exc.user_message == "uploading the result: Nextcloud refused access (403)"
        assert exc.user_message.render("fr") == "envoi du résultat : Nextcloud a refusé l'accès (403)"
    else:  # pragma: no cover
        raise AssertionError("no error")


def test_an_api_refusal_names_the_jobs_status_in_the_readers_language():
    from ex_app.lib.jobs import JobStatus
    from ex_app.lib.jobs.store import STATUS_WORDS, JobStore

    assert set(STATUS_WORDS) == set(JobStatus)
    refusal = JobStore._refusal(7, _record(JobStatus.PROCESSING), "Job {id} is {status}; cancel it before deleting it")
    assert refusal.user_message.render("de") == "Auftrag 7 ist in Arbeit; brechen Sie ihn ab, bevor Sie ihn löschen"


def _record(status):
    from types import SimpleNamespace

    return SimpleNamespace(status=status)
