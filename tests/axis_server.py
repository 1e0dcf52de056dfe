"""A local document exchange axis, for the connector's tests and for trying it by hand.

It behaves as the VNPT VXP SDK describes the national axis (docs/axis.md, "The
interface"): connected systems authenticate with their ``systemid`` and
``secret``; each operation is ``POST /<SDK operation>`` with the SDK's JSON header
in the HTTP header ``jsonheader``; answers are JSON ``{"status": "OK" | "FAIL",
"ErrorCode", "ErrorDesc", …}``. A message sent is routed by its edXML header (a
document to each ``To/OrganId``, a status message to ``ResponseFor/OrganId``),
re-serialised in transit with a ``TraceHeader`` of the axis appended to a
document's ``TraceHeaderList`` (as the 2019 download in the samples shows), and
waits in each addressee's inbox with the transport status ``new`` until the
addressee sets ``processing``, ``done`` or ``fail``.

It stores what an axis would — messages, their addressees' transport statuses,
the directory, the idempotency keys of sends — and knows nothing of docledger:
it imports nothing from it.

By hand: ``python -m tests.axis_server --port 8790`` (the systems and agencies of
``demo_axis()``; ``--help`` for more).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hmac
import json
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
VIETNAM = dt.timezone(dt.timedelta(hours=7))
MESSAGE_TYPES = {"eDoc": "edoc", "status": "status"}
TRANSPORT_STATUSES = ("processing", "done", "fail")
MAX_MESSAGE = 20 * 1024 * 1024

ET.register_namespace("edXML", NS)


class Refusal(Exception):
    def __init__(self, http_status: int, error_code: str, description: str) -> None:
        super().__init__(description)
        self.http_status = http_status
        self.error_code = error_code
        self.description = description


@dataclass
class System:
    """A connected system (a document management system) and the agencies it serves."""

    secret: str
    agencies: set[str]


@dataclass
class Message:
    doc_id: str
    sender: str
    service_type: str
    data: bytes  # as delivered: re-serialised, with the axis's TraceHeader
    received: bytes  # as the sender handed it over
    statuses: dict[str, str]  # addressee -> new | processing | done | fail
    reasons: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None


class Axis:
    """The axis's state: directory, systems, messages. Thread-safe."""

    def __init__(self, *, organ_id: str = "001.00.20.TT2") -> None:
        self.organ_id = organ_id  # written in the TraceHeader it appends
        self.systems: dict[str, System] = {}
        self.directory: dict[str, dict[str, str]] = {}
        self.messages: dict[str, Message] = {}
        self.keys: dict[tuple[str, str, str], str] = {}  # (system, from, key) -> doc id
        self.sends = 0  # messages accepted (a repeated idempotent send is not one)
        self.calls: dict[str, int] = {}  # requests answered, by operation (its access log)
        self.lock = threading.Lock()

    def add_agency(self, code: str, name: str, parent: str = "") -> None:
        self.directory[code] = {"code": code, "name": name, "pcode": parent,
                                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, code))}

    def add_system(self, system_id: str, secret: str, agencies: set[str]) -> None:
        self.systems[system_id] = System(secret, set(agencies))

    # ---- operations (already authenticated as ``system``) ----------------------------

    def send_edoc(self, system: str, header: dict[str, Any], body: bytes,
                  key: str | None) -> dict[str, Any]:
        sender = self._agency_of(system, header)
        service_type = _service_type(header)
        with self.lock:
            if key is not None and (system, sender, key) in self.keys:
                earlier = self.messages[self.keys[(system, sender, key)]]
                if earlier.received != body:
                    raise Refusal(422, "422", "this Idempotency-Key was used for another message")
                return {"DocId": earlier.doc_id}
        root = _parse(body)
        declared = _text(root, "edXMLEnvelope/edXMLHeader/MessageHeader/From/OrganId")
        if declared is not None and declared != sender:
            raise Refusal(400, "-1", f"the message's From ({declared}) is not 'from' ({sender})")
        addressees = self._addressees(root, service_type)
        if service_type == "eDoc":
            self._trace(root)
        data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
        with self.lock:
            if key is not None and (system, sender, key) in self.keys:  # a concurrent twin
                return {"DocId": self.keys[(system, sender, key)]}
            doc_id = str(uuid.uuid4())
            self.messages[doc_id] = Message(
                doc_id=doc_id, sender=sender, service_type=service_type, data=data,
                received=body, statuses=dict.fromkeys(addressees, "new"), idempotency_key=key)
            if key is not None:
                self.keys[(system, sender, key)] = doc_id
            self.sends += 1
        return {"DocId": doc_id}

    def get_received_edoc_list(self, system: str, header: dict[str, Any]) -> dict[str, Any]:
        agency = self._agency_of(system, header)
        service_type = _service_type(header)
        with self.lock:
            waiting = [m for m in self.messages.values() if m.service_type == service_type
                       and m.statuses.get(agency) in ("new", "processing")]
            return {"data": [{"id": m.doc_id, "from": m.sender, "servicetype": m.service_type,
                              "messagetype": MESSAGE_TYPES[m.service_type],
                              "status": m.statuses[agency]} for m in waiting]}

    def get_edoc(self, system: str, header: dict[str, Any]) -> bytes:
        agency = self._agency_of(system, header)
        return self._addressed(agency, header).data

    def update_status(self, system: str, header: dict[str, Any]) -> dict[str, Any]:
        agency = self._agency_of(system, header)
        status = header.get("status")
        if status not in TRANSPORT_STATUSES:
            raise Refusal(400, "-1", f"status must be one of {', '.join(TRANSPORT_STATUSES)}")
        with self.lock:
            message = self._addressed(agency, header)
            if message.statuses[agency] in ("done", "fail") and status == "processing":
                raise Refusal(400, "-1", f"the message is {message.statuses[agency]} already")
            message.statuses[agency] = status
            if status == "fail":
                message.reasons[agency] = str(header.get("description", ""))
        return {}

    def get_sent_edoc_list(self, system: str, header: dict[str, Any]) -> dict[str, Any]:
        agency = self._agency_of(system, header)
        with self.lock:
            return {"data": [{"id": m.doc_id, "servicetype": m.service_type,
                              "messagetype": MESSAGE_TYPES[m.service_type],
                              "to": dict(m.statuses), "idempotencyKey": m.idempotency_key}
                             for m in self.messages.values() if m.sender == agency]}

    def get_agencies_list(self, system: str, header: dict[str, Any]) -> dict[str, Any]:
        return {"data": sorted(self.directory.values(), key=lambda a: a["code"])}

    # ---- what an operator of the axis sees --------------------------------------------

    def inbox(self, agency: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages.values() if agency in m.statuses]

    # ---- plumbing ---------------------------------------------------------------------

    def _agency_of(self, system: str, header: dict[str, Any]) -> str:
        agency = header.get("from")
        if not isinstance(agency, str) or agency not in self.systems[system].agencies:
            raise Refusal(403, "403", f"system {system} does not act for {agency!r}")
        return agency

    def _addressed(self, agency: str, header: dict[str, Any]) -> Message:
        message = self.messages.get(str(header.get("docId")))
        if message is None or agency not in message.statuses:
            raise Refusal(404, "404", f"no message {header.get('docId')!r} for {agency}")
        return message

    def _addressees(self, root: ET.Element, service_type: str) -> list[str]:
        path = ("edXMLEnvelope/edXMLHeader/MessageHeader/To/OrganId" if service_type == "eDoc"
                else "edXMLEnvelope/edXMLHeader/MessageHeader/ResponseFor/OrganId")
        found = [(e.text or "").strip() for e in root.findall(_qualified(path))]
        if not found:
            raise Refusal(400, "-1", f"the message names no addressee ({path})")
        unknown = [code for code in found if code not in self.directory]
        if unknown:
            raise Refusal(400, "-1", f"unknown addressee(s): {', '.join(unknown)}")
        return list(dict.fromkeys(found))

    def _trace(self, root: ET.Element) -> None:
        """Append the axis's hop to the TraceHeaderList (made if missing)."""
        header = root.find(_qualified("edXMLEnvelope/edXMLHeader"))
        if header is None:
            raise Refusal(400, "-1", "the message has no edXMLHeader")
        traces = header.find(_qualified("TraceHeaderList"))
        if traces is None:
            traces = ET.Element(f"{{{NS}}}TraceHeaderList")
            header.insert(1, traces)
        trace = ET.Element(f"{{{NS}}}TraceHeader")
        ET.SubElement(trace, f"{{{NS}}}OrganId").text = self.organ_id
        ET.SubElement(trace, f"{{{NS}}}Timestamp").text = dt.datetime.now(VIETNAM).strftime(
            "%Y/%m/%d %H:%M:%S")
        last = max((i for i, child in enumerate(traces) if child.tag == f"{{{NS}}}TraceHeader"),
                   default=-1)
        traces.insert(last + 1, trace)


def _qualified(path: str) -> str:
    return "/".join(f"{{{NS}}}{step}" for step in path.split("/"))


def _text(root: ET.Element, path: str) -> str | None:
    found = root.find(_qualified(path))
    return None if found is None else (found.text or "").strip()


def _parse(body: bytes) -> ET.Element:
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise Refusal(400, "-1", "a message may not declare a DTD or entities")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise Refusal(400, "-1", f"not well-formed XML: {exc}") from None
    if root.tag != f"{{{NS}}}edXML":
        raise Refusal(400, "-1", f"not an edXML message (root {root.tag})")
    return root


def _service_type(header: dict[str, Any]) -> str:
    service_type = header.get("servicetype")
    if service_type not in MESSAGE_TYPES or header.get("messagetype") != MESSAGE_TYPES[
            service_type]:
        raise Refusal(400, "-1", "servicetype/messagetype must be eDoc/edoc or status/status")
    return str(service_type)


OPERATIONS = {"sendEdoc", "getReceivedEdocList", "getEdoc", "updateStatus", "getSentEdocList",
              "getAgenciesList"}


class Handler(BaseHTTPRequestHandler):
    axis: Axis  # set on the subclass the server makes

    def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
        try:
            operation = self.path.strip("/")
            if operation not in OPERATIONS:
                raise Refusal(404, "404", f"no operation {operation!r}")
            with self.axis.lock:
                self.axis.calls[operation] = self.axis.calls.get(operation, 0) + 1
            system = self._authenticated()
            header = self._json_header()
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_MESSAGE:
                raise Refusal(413, "413", "message too large")
            body = self.rfile.read(length)
            if operation == "getEdoc":
                self._reply(200, self.axis.get_edoc(system, header), "application/xml")
                return
            if operation == "sendEdoc":
                answer = self.axis.send_edoc(system, header, body,
                                             self.headers.get("Idempotency-Key"))
            else:
                answer = getattr(self.axis, _snake(operation))(system, header)
            self._json(200, {"status": "OK", "ErrorCode": "0", "ErrorDesc": "Thanh cong",
                             **answer})
        except Refusal as refusal:
            self._json(refusal.http_status, {"status": "FAIL", "ErrorCode": refusal.error_code,
                                             "ErrorDesc": refusal.description})

    def _authenticated(self) -> str:
        system_id = self.headers.get("systemid", "")
        system = self.axis.systems.get(system_id)
        if system is None or not hmac.compare_digest(
                self.headers.get("secret", "").encode(), system.secret.encode()):
            raise Refusal(401, "401", "unknown system or wrong secret")
        return system_id

    def _json_header(self) -> dict[str, Any]:
        try:
            header = json.loads(self.headers.get("jsonheader") or "{}")
        except ValueError:
            raise Refusal(400, "-1", "jsonheader is not JSON") from None
        if not isinstance(header, dict):
            raise Refusal(400, "-1", "jsonheader is not a JSON object")
        return header

    def _json(self, status: int, answer: dict[str, Any]) -> None:
        self._reply(status, json.dumps(answer, ensure_ascii=False).encode(), "application/json")

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


class AxisServer:
    """The axis over HTTP on 127.0.0.1, in a thread; ``stop`` ends it."""

    def __init__(self, axis: Axis, port: int = 0) -> None:
        self.axis = axis
        handler = type("BoundHandler", (Handler,), {"axis": axis})
        self.http = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> AxisServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join()


def demo_axis() -> Axis:
    """Two systems: one for the government office, one for a province and its district."""
    axis = Axis()
    axis.add_agency("000.00.00.G22", "Văn phòng Chính phủ")
    axis.add_agency("000.00.00.H41", "UBND tỉnh Nghệ An", "000.00.00.G22")
    axis.add_agency("000.00.15.H51", "UBND huyện", "000.00.00.H41")
    axis.add_system("vxp.g22", "secret-g22", {"000.00.00.G22"})
    axis.add_system("vxp.h41", "secret-h41", {"000.00.00.H41", "000.00.15.H51"})
    return axis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8790)
    port = parser.parse_args().port
    server = AxisServer(demo_axis(), port).start()
    print(f"axis at {server.url}; systems vxp.g22 (secret-g22) and vxp.h41 (secret-h41)")
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
