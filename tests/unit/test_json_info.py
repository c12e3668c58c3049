"""scripts/json_info.py: the manual_install --json-info comes from appinfo/info.xml, typed as AppAPI stores it."""

from __future__ import annotations

import importlib.util
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFO_XML = ROOT / "appinfo" / "info.xml"


def _load_script():
    spec = importlib.util.spec_from_file_location("json_info", ROOT / "scripts" / "json_info.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


json_info = _load_script()


def _info_with(version: str, routes_xml: str) -> str:
    return f"""<?xml version="1.0"?>
<info><id>video_converter_fm</id><name>Video converter</name><version>{version}</version>
<external-app><routes>{routes_xml}</routes></external-app></info>"""


def test_version_id_and_name_come_from_info_xml() -> None:
    root = ET.parse(INFO_XML).getroot()
    info = json_info.build_json_info(INFO_XML, port=23000, secret="s3cr3t")
    assert info["id"] == root.findtext("id") == "video_converter_fm"
    assert info["version"] == root.findtext("version")
    assert info["name"] == root.findtext("name")
    assert info["daemon_config_name"] == "manual_install"
    assert (info["port"], info["secret"]) == (23000, "s3cr3t")


def test_every_info_xml_route_is_emitted_with_numeric_access_level_and_header_list() -> None:
    root = ET.parse(INFO_XML).getroot()
    xml_routes = root.findall("./external-app/routes/route")
    routes = json_info.build_json_info(INFO_XML)["routes"]
    assert [r["url"] for r in routes] == [r.findtext("url") for r in xml_routes]
    assert [r["verb"] for r in routes] == [r.findtext("verb") for r in xml_routes]
    levels = {"PUBLIC": 0, "USER": 1, "ADMIN": 2}
    assert [r["access_level"] for r in routes] == [levels[r.findtext("access_level")] for r in xml_routes]
    for route in routes:
        assert route["headers_to_exclude"] == ["authorization", "cookie"]


def test_routes_match_the_bare_proxy_path_and_keep_admin_routes_separate() -> None:
    # AppAPI 3.2 matches against the path after /proxy/<appid>/ without a leading slash; later versions add it.
    routes = json_info.build_json_info(INFO_XML)["routes"]

    def matching(path: str, verb: str) -> list[int]:
        return [
            r["access_level"]
            for r in routes
            if re.search(r["url"], path, re.IGNORECASE) and verb in r["verb"].split(",")
        ]

    for path in ("api/jobs/7/cancel", "/api/jobs/7/cancel"):
        assert matching(path, "POST") == [1]
    assert matching("api/actions/mp4", "POST") == [1]
    assert matching("img/mp4.svg", "GET") == [1]
    assert matching("api/admin/settings", "GET") == [2]
    assert matching("api/actions/../admin/x", "POST") == []
    assert matching("api/jobs", "DELETE") == []


def test_a_changed_info_xml_changes_the_output(tmp_path: Path) -> None:
    path = tmp_path / "info.xml"
    path.write_text(
        _info_with(
            "9.8.7",
            "<route><url>^\\/?x$</url><verb>GET</verb><access_level>PUBLIC</access_level>"
            '<headers_to_exclude>["Authorization"]</headers_to_exclude>'
            "<bruteforce_protection>[401]</bruteforce_protection></route>",
        )
    )
    info = json_info.build_json_info(path)
    assert info["version"] == "9.8.7"
    assert info["routes"] == [
        {
            "url": "^\\/?x$",
            "verb": "GET",
            "access_level": 0,
            "headers_to_exclude": ["authorization"],
            "bruteforce_protection": [401],
        }
    ]


def test_an_unknown_access_level_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "info.xml"
    route = "<route><url>x</url><verb>GET</verb><access_level>GUEST</access_level></route>"
    path.write_text(_info_with("1.0.0", route))
    with pytest.raises(json_info.InfoXmlError, match="access_level"):
        json_info.build_json_info(path)


def test_cli_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert json_info.main(["--info", str(INFO_XML), "--port", "23005", "--secret", "abc"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["port"], printed["secret"], printed["version"]) == (23005, "abc", "0.1.0")
