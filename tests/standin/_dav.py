"""WebDAV under ``/remote.php/dav``: user files, chunked upload v2 and SEARCH by file id.

Status codes, headers and bodies follow the recording (contract README, "WebDAV" sections). Request bodies are
streamed to disk and GET bodies streamed from disk, so big files never sit in memory.
"""

from __future__ import annotations

import email.utils
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ._http import empty, forbidden, identify, not_found, sabre_error
from ._state import Node, StandinState, instance_file_id, mime_for, norm, parent_of

NS = {"DAV:": "d", "http://owncloud.org/ns": "oc", "http://nextcloud.org/ns": "nc", "http://sabredav.org/ns": "s"}
MULTISTATUS_OPEN = (
    '<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" '
    'xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns"'
)
DAV_HEADERS = {
    "Vary": "Brief,Prefer",
    "DAV": "1, 3, extended-mkcol, access-control, calendarserver-principal-property-search, "
    "nextcloud-checksum-update, nc-calendar-search, nc-enable-birthday-calendar",
}
ALLOW_EXISTING = "OPTIONS, GET, HEAD, DELETE, PROPFIND, PUT, PROPPATCH, COPY, MOVE, REPORT"
DEFAULT_PROPS = [
    ("DAV:", p)
    for p in ("resourcetype", "getlastmodified", "creationdate", "getcontentlength", "getcontenttype", "getetag")
] + [("http://owncloud.org/ns", p) for p in ("size", "id", "fileid", "permissions")]
CHUNK = 1024 * 1024


def http_date(ts: int) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def href_for(node: Node) -> str:
    path = quote(node.path, safe="/:@()~") if node.path else ""
    base = f"/remote.php/dav/files/{quote(node.user, safe='')}/"
    return base + path + ("/" if node.is_dir and path else "")


def _prop_value(state: StandinState, node: Node, ns: str, name: str) -> str | None:
    """The XML content of one prop, or None when Nextcloud would list it under 404."""
    key = (NS.get(ns), name)
    if key == ("d", "resourcetype"):
        return "<d:collection/>" if node.is_dir else ""
    if key == ("d", "getlastmodified"):
        return http_date(node.mtime)
    if key == ("d", "creationdate"):
        return "1970-01-01T00:00:00+00:00"
    if key == ("d", "getetag"):
        return f"&quot;{node.etag}&quot;"
    if key == ("oc", "size"):
        return str(state.size_of(node))
    if key == ("oc", "id"):
        return instance_file_id(node.file_id)
    if key == ("oc", "fileid"):
        return str(node.file_id)
    if key == ("oc", "permissions"):
        return state.permissions(node)
    if key == ("oc", "share-types"):
        return "<oc:share-type>0</oc:share-type>" if node.readonly_share else ""
    if key == ("oc", "favorite"):
        return "1" if node.favorite else "0"
    if key == ("d", "displayname"):
        return node.name
    if node.is_dir:
        if key == ("nc", "is-encrypted"):
            return "0"
        return None
    if key == ("d", "getcontentlength"):
        return str(node.size)
    if key == ("d", "getcontenttype"):
        return mime_for(node.name)
    if key == ("oc", "downloadURL"):
        return ""
    return None


def _tag(ns: str, name: str, index: int) -> tuple[str, str]:
    prefix = NS.get(ns)
    if prefix:
        return f"{prefix}:{name}", ""
    return f"x{index}:{name}", f' xmlns:x{index}="{ns}"'


def response_xml(state: StandinState, node: Node, props: list[tuple[str, str]]) -> str:
    found, missing = [], []
    for i, (ns, name) in enumerate(props):
        tag, decl = _tag(ns, name, i + 1)
        value = _prop_value(state, node, ns, name)
        if value is None:
            missing.append(f"<{tag}{decl}/>")
        elif value == "" and (NS.get(ns), name) != ("oc", "downloadURL"):
            found.append(f"<{tag}{decl}/>")
        else:
            found.append(f"<{tag}{decl}>{value}</{tag}>")
    out = f"<d:response><d:href>{href_for(node)}</d:href>"
    if found:
        out += f"<d:propstat><d:prop>{''.join(found)}</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>"
    if missing:
        out += (
            f"<d:propstat><d:prop>{''.join(missing)}</d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>"
        )
    return out + "</d:response>"


def multistatus(parts: list[str]) -> str:
    if not parts:
        return '<?xml version="1.0"?>\n' + MULTISTATUS_OPEN + "/>\n"
    return '<?xml version="1.0"?>\n' + MULTISTATUS_OPEN + ">" + "".join(parts) + "</d:multistatus>\n"


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, name = tag[1:].split("}", 1)
        return ns, name
    return "", tag


def parse_props(body: bytes) -> list[tuple[str, str]]:
    if not body.strip():
        return DEFAULT_PROPS
    root = ElementTree.fromstring(body)
    prop = root.find("{DAV:}prop")
    if prop is None:
        return DEFAULT_PROPS  # allprop / propname: the default set is close enough for our clients
    return [_split(child.tag) for child in prop]


def file_headers(node: Node) -> dict[str, str]:
    return {"OC-FileId": instance_file_id(node.file_id), "OC-ETag": f'"{node.etag}"', "ETag": f'"{node.etag}"'}


async def _body_to_temp(request: Request, state: StandinState) -> anyio.Path:
    temp = anyio.Path(state.new_temp_path())
    async with await anyio.open_file(temp, "wb") as out:
        async for chunk in request.stream():
            if chunk:
                await out.write(chunk)
    return temp


def _dest_of(request: Request) -> tuple[str, str] | None:
    """(user, path) of the Destination header of a files URL, or None."""
    dest = request.headers.get("destination")
    if not dest:
        return None
    path = unquote(urlsplit(dest).path)
    match = re.match(r"^(?:/index\.php)?/remote\.php/dav/files/([^/]+)(/.*)?$", path)
    if not match:
        return None
    return match.group(1), norm(match.group(2) or "")


# ---- handlers --------------------------------------------------------------------------------------------------
async def dav_entry(request: Request) -> Response:
    state: StandinState = request.app.state.standin
    caller = identify(request, state, dav=True)
    if caller.user is None:
        return sabre_error(
            "NotAuthenticated",
            "No public access to this resource., AppAPIAuth has not passed, No 'Authorization: Bearer' header "
            "found. Either the client didn't send one, or the server is mis-configured, No 'Authorization: Basic' "
            "header found. Either the client didn't send one, or the server is misconfigured",
            headers={"WWW-Authenticate": 'Basic realm="Nextcloud", charset="UTF-8"'},
        )
    rest = request.path_params.get("rest", "")
    method = request.method.upper()
    if rest.strip("/") == "" and method == "SEARCH":
        return await search(request, state, caller.user)
    match = re.match(r"^/?(files|uploads)/([^/]+)(/.*)?$", rest)
    if not match:
        return sabre_error("NotFound", f"File with name {rest} could not be located")
    area, owner, sub = match.group(1), match.group(2), match.group(3) or ""
    if owner != caller.user:
        return sabre_error("NotFound", f"Principal with name {owner} not found")
    if area == "uploads":
        return await uploads(request, state, owner, sub)
    handler = FILE_METHODS.get(method)
    if handler is None:
        return sabre_error(
            "NotImplemented", f"There was no plugin in the system that was willing to handle this {method} method."
        )
    return await handler(request, state, owner, norm(sub))


async def propfind(request: Request, state: StandinState, user: str, path: str) -> Response:
    node = state.get(user, path)
    body = await request.body()
    if node is None:
        return Response(
            not_found("/" + path).body, 404, headers={**DAV_HEADERS, "Content-Type": "application/xml; charset=utf-8"}
        )
    props = parse_props(body)
    depth = request.headers.get("depth", "1")
    nodes = [node] + (state.children(node) if node.is_dir and depth != "0" else [])
    xml = multistatus([response_xml(state, n, props) for n in nodes])
    return Response(xml, 207, headers={**DAV_HEADERS, "Content-Type": "application/xml; charset=utf-8"})


async def get(request: Request, state: StandinState, user: str, path: str) -> Response:
    node = state.get(user, path)
    if node is None:
        return not_found("/" + path)
    if node.is_dir:
        return Response(b"", 200, headers={"Content-Type": "text/html; charset=UTF-8"})
    size = node.size
    start, end = 0, size - 1
    status = 200
    rng = request.headers.get("range", "")
    match = re.match(r"^bytes=(\d*)-(\d*)$", rng.strip())
    if match and size > 0 and (match.group(1) or match.group(2)):
        if match.group(1):
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
        else:
            start = max(0, size - int(match.group(2)))
        if start >= size or start > end:
            return Response(b"", 416, headers={"Content-Range": f"bytes */{size}"})
        status = 206
    name = node.name
    headers = {
        "Content-Type": mime_for(name),
        "Last-Modified": http_date(node.mtime),
        "ETag": f'"{node.etag}"',
        "OC-ETag": f'"{node.etag}"',
        "Content-Length": str(end - start + 1 if size else 0),
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}; filename=\"{name}\"",
        "X-Accel-Buffering": "no",
        "Accept-Ranges": "bytes",
    }
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    blob = state.blob(node)
    if request.method.upper() == "HEAD":
        return Response(b"", status, headers=headers)

    async def chunks() -> AsyncIterator[bytes]:
        remaining = end - start + 1 if size else 0
        async with await anyio.open_file(blob, "rb") as src:
            await src.seek(start)
            while remaining > 0:
                data = await src.read(min(CHUNK, remaining))
                if not data:
                    break
                remaining -= len(data)
                yield data

    return StreamingResponse(chunks(), status_code=status, headers=headers)


def _if_none_match_fails(request: Request, node: Node | None) -> bool:
    """Sabre's ``Server::checkPreconditions`` for a method other than GET/HEAD: ``If-None-Match: *`` fails on any
    existing node, a list of etags on a file whose etag is in it. Sabre checks before the method's handler runs
    (not in the contract recording: from sabre/dav 4's source, which Nextcloud 29 ships)."""
    wanted = request.headers.get("if-none-match")
    if not wanted or node is None:
        return False
    if wanted.strip() == "*":
        return True
    return not node.is_dir and f'"{node.etag}"' in {item.strip() for item in wanted.split(",")}


async def put(request: Request, state: StandinState, user: str, path: str) -> Response:
    if _if_none_match_fails(request, state.get(user, path)):
        async for _chunk in request.stream():  # the client sends its body anyway; keep the connection usable
            pass
        return sabre_error(
            "PreconditionFailed",
            "An If-None-Match header was specified, but the ETag matched (or * was specified).",
            extra="  <s:header>If-None-Match</s:header>\n",
        )
    parent = state.get(user, parent_of(path))
    if path == "" or parent is None or not parent.is_dir:
        return not_found("/" + parent_of(path))
    existing = state.get(user, path)
    if existing is not None and existing.is_dir:
        return sabre_error("Conflict", "PUT is not allowed on non-files.")
    if not state.writable(user, parent.path):
        return forbidden()
    temp = await _body_to_temp(request, state)
    mtime = request.headers.get("x-oc-mtime")
    node, created = state.install_file(user, path, Path(temp), int(float(mtime)) if mtime else None)
    headers = file_headers(node)
    if mtime:
        headers["X-OC-MTime"] = "accepted"
    return empty(201 if created else 204, headers)


async def mkcol(request: Request, state: StandinState, user: str, path: str) -> Response:
    await request.body()
    if state.get(user, path) is not None:
        return sabre_error(
            "MethodNotAllowed", "The resource you tried to create already exists", headers={"Allow": ALLOW_EXISTING}
        )
    parent = state.get(user, parent_of(path))
    if parent is None or not parent.is_dir:
        return sabre_error("Conflict", "Parent node does not exist")
    if not state.writable(user, parent.path):
        return forbidden()
    node = state.mkdir(user, path)
    return empty(201, {"OC-FileId": instance_file_id(node.file_id)})


async def delete(request: Request, state: StandinState, user: str, path: str) -> Response:
    node = state.get(user, path)
    if node is None:
        return not_found("/" + path)
    if path == "" or (not node.readonly_share and not state.writable(user, parent_of(path))):
        return forbidden()
    state.delete(node)
    return empty(204)


async def move_or_copy(request: Request, state: StandinState, user: str, path: str) -> Response:
    node = state.get(user, path)
    if node is None:
        return not_found("/" + path)
    dest = _dest_of(request)
    if dest is None or dest[0] != user:
        return sabre_error("BadRequest", "The destination header was not understood")
    dest_path = dest[1]
    if dest_path == path:
        return forbidden()
    existing = state.get(user, dest_path)
    overwrite = request.headers.get("overwrite", "T").upper() != "F"
    dest_parent = state.get(user, parent_of(dest_path))
    if dest_parent is None or not dest_parent.is_dir:
        return sabre_error("Conflict", "The destination node is not found")
    if existing is not None and not overwrite:
        return sabre_error(
            "PreconditionFailed",
            "The destination node already exists, and the overwrite header is set to false",
            extra="  <s:header>Overwrite</s:header>\n",
        )
    is_move = request.method.upper() == "MOVE"
    if not state.writable(user, dest_parent.path) or (
        is_move and not node.readonly_share and not state.writable(user, parent_of(path))
    ):
        return forbidden()
    if existing is not None:
        state.delete(existing)
    result = state.move(node, dest_path) if is_move else state.copy(node, dest_path)
    return empty(204 if existing is not None else 201, file_headers(result))


async def proppatch(request: Request, state: StandinState, user: str, path: str) -> Response:
    node = state.get(user, path)
    body = await request.body()
    if node is None:
        return not_found("/" + path)
    if b"favorite" in body:
        node.favorite = b">1<" in body
    parts = f"<d:response><d:href>{href_for(node)}</d:href></d:response>"
    return Response(multistatus([parts]), 207, headers={"Content-Type": "application/xml; charset=utf-8"})


FILE_METHODS = {
    "PROPFIND": propfind,
    "GET": get,
    "HEAD": get,
    "PUT": put,
    "MKCOL": mkcol,
    "DELETE": delete,
    "MOVE": move_or_copy,
    "COPY": move_or_copy,
    "PROPPATCH": proppatch,
}


# ---- SEARCH ---------------------------------------------------------------------------------------------------
async def search(request: Request, state: StandinState, user: str) -> Response:
    root = ElementTree.fromstring(await request.body())
    basic = root.find("{DAV:}basicsearch")
    props = [_split(p.tag) for p in basic.find("{DAV:}select/{DAV:}prop")] if basic is not None else DEFAULT_PROPS
    scope = (basic.findtext("{DAV:}from/{DAV:}scope/{DAV:}href") or "") if basic is not None else ""
    where = basic.find("{DAV:}where") if basic is not None else None
    eq = where.find("{DAV:}eq") if where is not None else None
    prop = eq.find("{DAV:}prop") if eq is not None else None
    if eq is None or prop is None or len(prop) == 0 or _split(prop[0].tag) != ("http://owncloud.org/ns", "fileid"):
        return sabre_error("NotImplemented", "The stand-in only searches by oc:fileid")
    literal = (eq.findtext("{DAV:}literal") or "").strip()
    # PHP's (int) cast: leading digits count, so the instance form "00000042ocvt39tsgrv7" means 42.
    digits = re.match(r"^\d+", literal)
    file_id = int(digits.group(0)) if digits else -1
    scope_match = re.match(r"^/?files/([^/]+)(/.*)?$", unquote(scope))
    scope_user = scope_match.group(1) if scope_match else user
    scope_path = norm(scope_match.group(2) or "") if scope_match else ""
    node = state.by_id.get(file_id)
    parts = []
    if (
        node is not None
        and node.user == scope_user == user
        and node.path != ""
        and (scope_path == "" or node.path == scope_path or node.path.startswith(scope_path + "/"))
    ):
        parts.append(response_xml(state, node, props))
    return Response(multistatus(parts), 207, headers={"Content-Type": 'application/xml; charset="utf-8"'})


# ---- chunked upload v2 -------------------------------------------------------------------------------------------
async def uploads(request: Request, state: StandinState, user: str, sub: str) -> Response:
    method = request.method.upper()
    parts = [p for p in sub.split("/") if p]
    if not parts:
        return sabre_error("MethodNotAllowed", "Not allowed on the uploads root")
    name = parts[0]
    key = (user, name)
    folder = state.upload_dir(user, name)
    if len(parts) == 1:
        if method == "MKCOL":
            await request.body()
            if key in state.uploads:
                return sabre_error(
                    "MethodNotAllowed",
                    "The resource you tried to create already exists",
                    headers={"Allow": ALLOW_EXISTING},
                )
            folder.mkdir(parents=True, exist_ok=True)
            state.uploads[key] = {"destination": request.headers.get("destination")}
            return empty(201)
        if method == "DELETE":
            if key not in state.uploads:
                # Recorded: the message has a double slash ("//nc-py-api-…").
                return not_found("//" + name)
            state.uploads.pop(key, None)
            await anyio.to_thread.run_sync(shutil.rmtree, folder, True)
            return empty(204)
        if method == "PROPFIND":
            if key not in state.uploads:
                return not_found("//" + name)
            return Response(multistatus([]), 207, headers={"Content-Type": "application/xml; charset=utf-8"})
        return sabre_error("MethodNotAllowed", f"{method} is not allowed here")
    if key not in state.uploads:
        return not_found(f"//{name}")
    chunk_name = parts[1]
    if method == "PUT" and len(parts) == 2 and chunk_name != ".file":
        target = folder / chunk_name
        existed = target.exists()
        temp = await _body_to_temp(request, state)
        await anyio.Path(temp).rename(target)
        return empty(204 if existed else 201)
    if method == "MOVE" and chunk_name == ".file":
        return await _assemble(request, state, user, name, folder)
    return sabre_error("MethodNotAllowed", f"{method} is not allowed here")


async def _assemble(request: Request, state: StandinState, user: str, name: str, folder: Path) -> Response:
    dest = _dest_of(request)
    if dest is None or dest[0] != user:
        return sabre_error("BadRequest", "The destination header was not understood")
    dest_path = dest[1]
    existing = state.get(user, dest_path)
    # Sabre checks Overwrite before the chunking plugin assembles anything (our ExApp relies on this).
    if existing is not None and request.headers.get("overwrite", "T").upper() == "F":
        return sabre_error(
            "PreconditionFailed",
            "The destination node already exists, and the overwrite header is set to false",
            extra="  <s:header>Overwrite</s:header>\n",
        )
    parent = state.get(user, parent_of(dest_path))
    if parent is None or not parent.is_dir:
        return sabre_error("Conflict", "The destination node is not found")
    if not state.writable(user, parent.path) or (existing is not None and existing.is_dir):
        return forbidden()
    temp = state.new_temp_path()

    def concat() -> None:
        chunks = sorted((p for p in folder.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        with open(temp, "wb") as out:
            for part in chunks:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)

    await anyio.to_thread.run_sync(concat)
    total = request.headers.get("oc-total-length")
    if total is not None and int(total) != temp.stat().st_size:
        temp.unlink()
        return sabre_error(
            "BadRequest",
            f"Chunks on server do not sum up to {total} but to {temp.stat().st_size if temp.exists() else 0} bytes",
        )
    # As on PUT, the final MOVE may carry the file's modification time (Nextcloud answers "accepted").
    mtime = request.headers.get("x-oc-mtime")
    node, created = state.install_file(user, dest_path, temp, int(float(mtime)) if mtime else None)
    state.uploads.pop((user, name), None)
    await anyio.to_thread.run_sync(shutil.rmtree, folder, True)
    headers = file_headers(node)
    if mtime:
        headers["X-OC-MTime"] = "accepted"
    return empty(201 if created else 204, headers)
