from pathlib import Path
from xml.etree import ElementTree

from ex_app.lib.media import TARGETS

IMG = Path(__file__).resolve().parents[2] / "ex_app" / "img"


def test_every_target_has_a_files_action_icon():
    missing = [t for t in TARGETS if not (IMG / f"{t}.svg").is_file()]
    assert missing == []


def test_icons_are_well_formed_svg():
    for icon in IMG.glob("*.svg"):
        root = ElementTree.parse(icon).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg", icon.name
