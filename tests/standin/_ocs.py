"""OCS endpoints: capabilities, the current user, AppAPI's ExApp API and the notifications app's user API.

Envelopes follow the recording: v1 answers HTTP 200 even on failure (the code is in ``meta.statuscode``), v2
answers with the real status; empty results are ``data: []``.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._appapi import AppAPI, file_action_row
from ._http import Caller, identify, ocs
from ._state import StandinState

CAPABILITIES = json.loads((Path(__file__).with_name("capabilities.json")).read_text())
VERSION = {"major": 29, "minor": 0, "micro": 6, "string": "29.0.6", "edition": "", "extendedSupport": False}


#: route → (state table, the field that completes the key, the 404 message)
UI_RESOURCES = {
    "/api/v1/ui/script": ("ui_scripts", "path", "No such Script"),
    "/api/v1/ui/style": ("ui_styles", "path", "No such Style"),
    "/api/v1/ui/initial-state": ("ui_initial_states", "key", "No such InitialState"),
}


def _with_base(value: Any, base: str) -> Any:
    if isinstance(value, str):
        return value.replace("{BASE_URL}", base)
    if isinstance(value, list):
        return [_with_base(v, base) for v in value]
    if isinstance(value, dict):
        return {k: _with_base(v, base) for k, v in value.items()}
    return value


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _as_config_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


async def _params(request: Request) -> dict[str, Any]:
    """Controller parameters: the query string overlaid by a JSON body, as Nextcloud's Request merges them."""
    params: dict[str, Any] = dict(request.query_params)
    params.pop("format", None)
    body = await request.body()
    if body.strip():
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            params.update(data)
    return params


class OCS:
    """Dispatches ``/ocs/v{1,2}.php/<route>``."""

    def __init__(self, state: StandinState, appapi: AppAPI):
        self.state = state
        self.appapi = appapi

    async def __call__(self, request: Request) -> Response:
        version = int(request.path_params["version"])
        route = "/" + request.path_params.get("rest", "").strip("/")
        method = request.method.upper()
        caller = identify(request, self.state)
        params = await _params(request)
        if route == "/cloud/capabilities" and method == "GET":
            return self.capabilities(request, version, caller)
        if route == "/cloud/user" and method == "GET":
            return self.cloud_user(version, caller)
        if route.startswith("/cloud/users/") and method == "PUT":
            return await self.edit_user(version, route.removeprefix("/cloud/users/"), caller, params, request)
        if route.startswith("/apps/notifications/api/v2/notifications"):
            return self.notifications_api(version, route, method, caller, request)
        if route == "/settings/api/declarative/value" and method == "POST":
            return self.declarative_value(version, caller, params)
        if route.startswith("/apps/app_api/"):
            if caller.appid is None:
                # AppAPIAuthMiddleware::afterException: a plain JSON body, HTTP 401.
                return JSONResponse({"message": "AppAPI authentication failed"}, status_code=401)
            return await self.app_api(version, route[len("/apps/app_api") :], method, caller, params, request)
        return ocs(
            version,
            [],
            404,
            "Invalid query, please check the syntax. API specifications are here: "
            "http://www.freedesktop.org/wiki/Specifications/open-collaboration-services.",
        )

    # ---- core ---------------------------------------------------------------------------------------------------
    def capabilities(self, request: Request, version: int, caller: Caller) -> Response:
        key = "user" if caller.user is not None else "anonymous"
        caps = _with_base(copy.deepcopy(CAPABILITIES[key]), _base_url(request))
        caps["bruteforce"]["delay"] = self.state.bruteforce_delay
        return ocs(version, {"version": VERSION, "capabilities": caps})

    def cloud_user(self, version: int, caller: Caller) -> Response:
        """``GET cloud/user``: the caller's own account, key for key as recorded (``ocs_compare_*`` sections of
        the browser recordings; NC32 adds enabled, login timestamps, bluesky, pronouns, timezone). ``groups``
        is what an ExApp asks to learn whether its user is an admin (members of the ``admin`` group are)."""
        if caller.user is None:
            return ocs(version, [], 401, "Current user is not logged in")
        user = caller.user
        name = self.state.display_names.get(user, user)
        v2local, v2fed = "v2-local", "v2-federated"
        data: dict[str, Any] = {}
        nc32 = self.state.nc_version >= 32
        if nc32:
            data.update(enabled=True, id=user, firstLoginTimestamp=1795980044, lastLoginTimestamp=1795982177)
        else:
            data["id"] = user
        data.update(
            lastLogin=1795982177000,
            backend="Database",
            subadmin=[],
            quota={"free": -3, "used": 0, "total": -3, "relative": 0, "quota": -3},
            manager="",
            avatarScope=v2fed,
            email=None,
            emailScope=v2fed,
            additional_mail=[],
            additional_mailScope=[],
            displayname=name,
            **{"display-name": name},
            displaynameScope=v2fed,
        )
        for key in ("phone", "address", "website", "twitter", *(("bluesky",) if nc32 else ()), "fediverse"):
            data[key], data[f"{key}Scope"] = "", v2local
        for key in ("organisation", "role", "headline", "biography"):
            data[key], data[f"{key}Scope"] = "", v2local
        data.update(profile_enabled="1", profile_enabledScope=v2local)
        if nc32:
            data.update(pronouns="", pronounsScope=v2fed)
        data.update(
            groups=["admin"] if user in self.state.admins else [],
            language=self.state.languages.get(user, "en"),
            locale="",
            **({"timezone": "UTC"} if nc32 else {}),
            notify_email=None,
            backendCapabilities={"setDisplayName": True, "setPassword": True},
        )
        return ocs(version, data)

    async def edit_user(
        self, version: int, user: str, caller: Caller, params: dict[str, Any], request: Request
    ) -> Response:
        """Provisioning API ``PUT cloud/users/<uid>`` with ``key`` and ``value`` (recorded for ``language``: a form
        body, v2 answer ``data: []``). A user may edit themself, an admin anyone; only ``language`` is kept."""
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            params = {**params, **dict(parse_qsl((await request.body()).decode("utf-8", "replace")))}
        if caller.user is None:
            return ocs(version, [], 401, "Current user is not logged in")
        if user not in self.state.users:
            return ocs(version, [], 404, "User does not exist")
        if caller.user != user and caller.user not in self.state.admins:
            return ocs(version, [], 403, "")  # OCSForbiddenException
        key, value = str(params.get("key", "")), str(params.get("value", ""))
        if key == "language":
            if not re.fullmatch(r"[a-z]{2,3}(_[A-Za-z]{2,4})?", value):
                return ocs(version, [], 400, "Invalid language")
            self.state.languages[user] = value
            return ocs(version, [])
        return ocs(version, [], 400, "")  # the stand-in keeps no other user field

    def declarative_value(self, version: int, caller: Caller, params: dict[str, Any]) -> Response:
        """What the settings page posts when an admin changes a field of an ExApp's declarative form.

        Core dispatches DeclarativeSettingsSetValueEvent for ``storage_type: external`` forms; AppAPI 3.2's
        SetValueListener stores admin-section values in appconfig_ex (personal ones in preferences_ex).
        Nothing is sent to the ExApp: it reads the value back when it wants it.
        """
        if caller.user is None:
            return ocs(version, None, 401, "Current user is not logged in")
        app, form_id, field_id = (str(params.get(k, "")) for k in ("app", "formId", "fieldId"))
        form = self.state.settings_forms.get((app, form_id))
        if form is None or not any(f.get("id") == field_id for f in form.get("fields", [])):
            return ocs(version, None, 400, "Unknown form or field")
        value = _as_config_value(params.get("value"))
        if form.get("section_type") == "admin":
            if caller.user not in self.state.admins:
                return ocs(version, None, 403, "Logged in account must be an admin")
            table, key = self.state.appconfig, (app, field_id)
            row = {"appid": app, "configkey": field_id, "configvalue": value, "sensitive": 0}
        else:
            table, key = self.state.preferences, (app, caller.user, field_id)
            row = {"user_id": caller.user, "appid": app, "configkey": field_id, "configvalue": value}
        old = table.get(key)
        table[key] = {"id": old["id"] if old else self.state.next_row_id("config"), **row}
        return ocs(version, None)

    # ---- notifications app (user side) -----------------------------------------------------------------------
    def notifications_api(self, version: int, route: str, method: str, caller: Caller, request: Request) -> Response:
        if caller.user is None:
            return ocs(version, [], 401, "Current user is not logged in")
        user = caller.user
        mine = sorted(
            (n for n in self.state.notifications.values() if n["user"] == user),
            key=lambda n: n["notification_id"],
            reverse=True,
        )
        match = re.match(r"^/apps/notifications/api/v2/notifications(?:/(\d+))?$", route)
        if not match:
            return ocs(version, None, 404)
        if match.group(1) is None:
            if method == "GET":
                rendered = [self._render(n, request) for n in mine]
                etag = '"' + hashlib.md5(json.dumps(rendered).encode()).hexdigest() + '"'
                return ocs(version, rendered, headers={"ETag": etag, "X-Nextcloud-User-Status": "online"})
            if method == "DELETE":
                for n in mine:
                    self.state.notifications.pop(n["notification_id"], None)
                return ocs(version, [])
            return ocs(version, None, 405)
        nid = int(match.group(1))
        item = self.state.notifications.get(nid)
        if item is None or item["user"] != user:
            return ocs(version, None, 404, "")
        if method == "GET":
            return ocs(version, self._render(item, request))
        if method == "DELETE":
            self.state.notifications.pop(nid, None)
            return ocs(version, [])
        return ocs(version, None, 405)

    @staticmethod
    def _render(item: dict[str, Any], request: Request) -> dict[str, Any]:
        def fill(text: str, params: dict[str, Any]) -> str:
            return re.sub(r"\{(\w+)\}", lambda m: str((params.get(m.group(1)) or {}).get("name", m.group(0))), text)

        sp, mp = item["subject_params"], item["message_params"]
        return {
            "notification_id": item["notification_id"],
            "app": item["app"],
            "user": item["user"],
            "datetime": item["datetime"],
            "object_type": item["object_type"],
            "object_id": item["object_id"],
            "subject": fill(item["subject"], sp),
            "message": fill(item["message"], mp),
            "link": item["link"],
            "subjectRich": item["subject"],
            "subjectRichParameters": sp or [],
            "messageRich": item["message"],
            "messageRichParameters": mp or [],
            "icon": _base_url(request) + "/apps/app_api/img/app-dark.svg",
            "shouldNotify": True,
            "actions": [],
        }

    # ---- AppAPI's ExApp API ---------------------------------------------------------------------------------
    async def app_api(
        self, version: int, route: str, method: str, caller: Caller, params: dict[str, Any], request: Request
    ) -> Response:
        state = self.state
        appid = caller.appid
        assert appid is not None
        exapp = state.exapps.get(appid)
        if exapp is None:
            return ocs(version, [], 404)
        table: dict[tuple, dict[str, Any]]
        if route == "/ex-app/state" and method == "GET":
            return ocs(version, 1 if exapp.enabled else 0)
        if route == "/ex-app/status" and method == "PUT":
            try:
                await self.appapi.set_init_progress(exapp, int(params.get("progress", 0)), str(params.get("error", "")))
            except ValueError as exc:
                return ocs(version, [], 400, str(exc))
            return ocs(version, [])
        if route == "/api/v1/log" and method == "POST":
            level = params.get("level")
            if not isinstance(level, int) or not 0 <= level <= 4:
                return ocs(version, [], 400, "Invalid log level")
            state.exapp_log.append({"app": appid, "level": level, "message": params.get("message", "")})
            return ocs(version, [])
        if route == "/api/v1/notification" and method == "POST":
            return self._notify(version, appid, caller, params)
        if route in ("/api/v1/ui/files-actions-menu", "/api/v2/ui/files-actions-menu"):
            table = state.file_actions
            key = (appid, str(params.get("name", "")))
            if method == "POST":
                row = {
                    "id": table[key]["id"] if key in table else state.next_row_id("files_actions"),
                    "appid": appid,
                    "name": key[1],
                    "display_name": str(params.get("displayName", "")),
                    "mime": str(params.get("mime", "file")),
                    "permissions": str(int(params.get("permissions", 31))),
                    "order": int(params.get("order", 0)),
                    "icon": str(params.get("icon", "")).lstrip("/"),
                    "action_handler": str(params.get("actionHandler", "")).lstrip("/"),
                    "version": "2.0" if "/api/v2/" in route else "1.0",
                }
                table[key] = row
                return ocs(version, [])
            if route.startswith("/api/v1/") and method in ("GET", "DELETE"):
                if key not in table:
                    return ocs(version, [], 404, "FileActionMenu not found")
                if method == "GET":
                    return ocs(version, file_action_row(table[key]))
                del table[key]
                return ocs(version, [])
        if route == "/api/v1/ui/top-menu":
            table = state.top_menus
            key = (appid, str(params.get("name", "")))
            if method == "POST":
                table[key] = {
                    "id": table[key]["id"] if key in table else state.next_row_id("top_menu"),
                    "appid": appid,
                    "name": key[1],
                    "display_name": str(params.get("displayName", "")),
                    "icon": str(params.get("icon", "")),
                    "admin_required": int(params.get("adminRequired", 0)),
                }
                return ocs(version, [])
            if method in ("GET", "DELETE"):
                if key not in table:
                    return ocs(version, [], 404, "No such Top Menu entry")
                if method == "GET":
                    return ocs(version, table[key])
                del table[key]
                # Recorded: deleting a top-menu entry also deletes its scripts, styles and initial states.
                for resources in (state.ui_scripts, state.ui_styles, state.ui_initial_states):
                    for gone in [k for k in resources if k[:3] == (appid, "top_menu", key[1])]:
                        del resources[gone]
                return ocs(version, [])
        if route in UI_RESOURCES:
            return self._ui_resource(version, route, method, appid, params)
        if route == "/api/v1/ui/settings":
            table = state.settings_forms
            if method == "POST":
                scheme = params.get("formScheme")
                if not isinstance(scheme, dict) or "id" not in scheme:
                    return ocs(version, [], 400)
                table[(appid, str(scheme["id"]))] = scheme
                return ocs(version, [])
            key = (appid, str(params.get("formId", "")))
            if method in ("GET", "DELETE"):
                if key not in table:
                    return ocs(version, [], 404)
                if method == "GET":
                    return ocs(version, {**table[key], "storage_type": "external"})
                del table[key]
                return ocs(version, [])
        for kind in ("config", "preference"):
            base = f"/api/v1/ex-app/{kind}"
            if route in (base, base + "/get-values"):
                return self._config(version, kind, route.endswith("get-values"), method, appid, caller, params)
        return ocs(version, [], 404, "Invalid query, please check the syntax.")

    def _ui_resource(self, version: int, route: str, method: str, appid: str, params: dict[str, Any]) -> Response:
        """``ui/script``, ``ui/style``, ``ui/initial-state``: POST with a JSON body, GET and DELETE by query."""
        table_name, last, missing = UI_RESOURCES[route]
        table: dict[tuple, dict[str, Any]] = getattr(self.state, table_name)
        ui_type, name, last_value = (str(params.get(k, "")) for k in ("type", "name", last))
        key = (appid, ui_type, name, last_value)
        if method == "POST":
            row: dict[str, Any] = {
                "id": table[key]["id"] if key in table else self.state.next_row_id(table_name),
                "appid": appid,
                "type": ui_type,
                "name": name,
                last: last_value,
            }
            if last == "path" and route.endswith("/script"):
                row["after_app_id"] = str(params.get("afterAppId", ""))
            if last == "key":
                row["value"] = params.get("value")
            table[key] = row
            return ocs(version, [])
        if method in ("GET", "DELETE"):
            if key not in table:
                return ocs(version, [], 404, missing)
            if method == "GET":
                return ocs(version, table[key])
            del table[key]
            return ocs(version, [])
        return ocs(version, [], 404, "Invalid query, please check the syntax.")

    def _notify(self, version: int, appid: str, caller: Caller, params: dict[str, Any]) -> Response:
        body = params.get("params") or {}
        if caller.user is None:
            return ocs(version, [], 400, "Invalid notification user")
        sub = body.get("subject_params") or {}
        item = {
            "notification_id": next(self.state._notification_ids),
            "app": appid,
            "user": caller.user,
            "datetime": _now(),
            "object_type": body.get("object", ""),
            "object_id": str(body.get("object_id", "")),
            "subject": sub.get("rich_subject", ""),
            "message": sub.get("rich_message", ""),
            "subject_params": sub.get("rich_subject_params") or {},
            "message_params": sub.get("rich_message_params") or {},
            "link": sub.get("link", ""),
        }
        self.state.notifications[item["notification_id"]] = item
        # The create answer is the *unrendered* notification: empty subject, message, link and icon.
        return ocs(
            version,
            {
                "app": appid,
                "user": caller.user,
                "datetime": item["datetime"],
                "object_type": item["object_type"],
                "object_id": item["object_id"],
                "subject": "",
                "message": "",
                "link": "",
                "icon": "",
            },
        )

    def _config(
        self, version: int, kind: str, get_values: bool, method: str, appid: str, caller: Caller, params: dict[str, Any]
    ) -> Response:
        state = self.state
        is_pref = kind == "preference"
        if is_pref and caller.user is None:
            return ocs(version, [], 400, "Failed to set user config value")
        user = caller.user or ""

        def key_of(config_key: str) -> tuple:
            return (appid, user, config_key) if is_pref else (appid, config_key)

        table: dict[tuple, dict[str, Any]] = state.preferences if is_pref else state.appconfig
        if get_values and method == "POST":
            keys = params.get("configKeys") or []
            return ocs(
                version,
                [{"configkey": k, "configvalue": table[key_of(k)]["configvalue"]} for k in keys if key_of(k) in table],
            )
        if get_values:
            return ocs(version, [], 405)
        if method == "POST":
            config_key = str(params.get("configKey", ""))
            if not config_key:
                return ocs(version, [], 400, "Config key cannot be empty")
            key = key_of(config_key)
            old = table.get(key)
            row: dict[str, Any] = {"id": old["id"] if old else state.next_row_id(kind)}
            if is_pref:
                row["user_id"] = user
            row.update(appid=appid, configkey=config_key, configvalue=_as_config_value(params.get("configValue")))
            if not is_pref:
                sensitive = params.get("sensitive")
                row["sensitive"] = int(bool(sensitive)) if sensitive is not None else (old or {}).get("sensitive", 0)
            table[key] = row
            return ocs(version, row)
        if method == "DELETE":
            keys = params.get("configKeys") or []
            deleted = sum(1 for k in keys if table.pop(key_of(k), None) is not None)
            if deleted == 0:
                what = "preferences_ex" if is_pref else "appconfig_ex"
                return ocs(version, [], 404, f"No {what} values deleted")
            return ocs(version, deleted)
        return ocs(version, [], 405)
