from ex_app.lib.i18n import language_from_header, translate


def test_notifications_are_translated_into_the_language_the_job_remembered():
    assert translate("de", "Conversion finished: {file}", file="a.mp4") != "Conversion finished: a.mp4"
    assert "a.mp4" in translate("de-DE", "Conversion finished: {file}", file="a.mp4")


def test_unknown_languages_fall_back_to_english():
    assert translate("xx", "Conversion finished: {file}", file="a.mp4") == "Conversion finished: a.mp4"


def test_language_comes_from_the_first_accept_language_entry():
    assert language_from_header("de-DE,de;q=0.9,en;q=0.8") == "de-DE"
    assert language_from_header(None) == "en"
