"""The transport client of the national document exchange axis (docs/axis.md).

One keep-alive HTTP client per axis endpoint, authenticated as one connected
system (the SDK's ``systemId`` and ``secret``). Each method is one operation of
the VNPT VXP SDK, under the SDK's name; each request carries the SDK's JSON
header (``servicetype``, ``messagetype``, ``from``, ``docId``, ``status``) as the
HTTP header ``jsonheader``. Messages are opaque edXML bytes here: the client
never parses them.

Whatever goes wrong is one of three errors: the axis could not be reached or did
not answer in time (``AxisUnreachableError``: try again later), it answered with a
refusal (``AxisRefusedError``, or ``AxisAuthError`` for the credentials), or its
answer is not what the interface promises (``AxisMalformedAnswerError``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from domain.errors import ConflictError, ForbiddenError, StoreUnavailableError, VerificationError

TransportStatus = Literal["processing", "done", "fail"]
ServiceType = Literal["eDoc", "status"]
MESSAGE_TYPES: dict[ServiceType, str] = {"eDoc": "edoc", "status": "status"}
REASON_CHARS = 300  # of a refusal's description kept in the error
MAX_MESSAGE = 64 * 1024 * 1024  # bytes of one message read from the axis, at most


class AxisUnreachableError(StoreUnavailableError):
    """The axis could not be reached, or did not answer in time: retry later."""

    code = "axis-unreachable"


class AxisRefusedError(ConflictError):
    """The axis answered, and refused the operation."""

    code = "axis-refused"

    def __init__(self, message: str, *, status: int, error_code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code


class AxisAuthError(ForbiddenError):
    """The axis refused the system's credentials, or the agency is not the system's."""

    code = "axis-forbidden"


class AxisMalformedAnswerError(VerificationError):
    """The axis answered something the interface does not allow."""

    code = "axis-malformed-answer"


class MessageTooLargeError(AxisMalformedAnswerError):
    """A message the axis hands over is larger than this client reads."""

    code = "axis-message-too-large"


@dataclass(frozen=True, kw_only=True)
class Received:
    """One entry of ``getReceivedEdocList``: a message waiting in an agency's inbox."""

    doc_id: str
    sender: str
    service_type: ServiceType
    status: str  # the transport status: new, processing


@dataclass(frozen=True, kw_only=True)
class SentStatus:
    """One entry of ``getSentEdocList``: a sent message and each addressee's status."""

    doc_id: str
    service_type: ServiceType
    recipients: dict[str, str]  # agency code -> transport status
    idempotency_key: str | None


@dataclass(frozen=True, kw_only=True)
class DirectoryEntry:
    """One agency of ``getAgenciesList``."""

    code: str
    name: str
    parent: str  # the governing agency's code ("pcode"), "" if none


class AxisClient:
    """The SDK's operations against one axis endpoint, as one connected system."""

    def __init__(self, url: str, *, system_id: str, secret: str, timeout: float = 10.0,
                 max_message: int = MAX_MESSAGE,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.max_message = max_message
        self.http = httpx.Client(timeout=timeout, transport=transport,
                                 headers={"systemid": system_id, "secret": secret})

    # ---- the SDK's operations ---------------------------------------------------

    def send_edoc(self, agency: str, data: bytes, service_type: ServiceType, *,
                  idempotency_key: str) -> str:
        """``sendEdoc``: hand a message to the axis; its id on the axis (``DocId``).
        The same ``idempotency_key`` sent again gets the same id, and no second copy."""
        answer = self._call("sendEdoc", {
            "from": agency, "servicetype": service_type,
            "messagetype": MESSAGE_TYPES[service_type]}, content=data,
            headers={"Idempotency-Key": idempotency_key, "Content-Type": "application/xml"})
        return _text(answer, "DocId")

    def get_received_edoc_list(self, agency: str, service_type: ServiceType) -> list[Received]:
        """``getReceivedEdocList``: the messages waiting for ``agency`` (not yet done or
        failed), oldest first."""
        answer = self._call("getReceivedEdocList", {
            "from": agency, "servicetype": service_type,
            "messagetype": MESSAGE_TYPES[service_type]})
        return [Received(doc_id=_text(item, "id"), sender=_text(item, "from"),
                         service_type=_service_type(item), status=_text(item, "status"))
                for item in _items(answer, "data")]

    def get_edoc(self, agency: str, doc_id: str) -> bytes:
        """``getEdoc``: the message's bytes as the axis delivers them (read up to
        ``max_message`` bytes: a larger one is ``MessageTooLargeError``)."""
        response = self._post("getEdoc", {"from": agency, "docId": doc_id}, stream=True)
        try:
            if response.headers.get("content-type", "").split(";")[0].strip() != \
                    "application/xml":
                response.read()
                _answer(response)  # a refusal is JSON
                raise AxisMalformedAnswerError(
                    f"getEdoc {doc_id}: the answer is not application/xml")
            return self._bounded(response, doc_id)
        finally:
            response.close()

    def _bounded(self, response: httpx.Response, doc_id: str) -> bytes:
        chunks, size = [], 0
        try:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_message:
                    raise MessageTooLargeError(
                        f"message {doc_id} is larger than {self.max_message} bytes")
                chunks.append(chunk)
        except httpx.TimeoutException:
            raise AxisUnreachableError(
                f"the axis did not hand over {doc_id} within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise AxisUnreachableError(f"the axis broke off {doc_id}: {exc}") from None
        return b"".join(chunks)

    def update_status(self, agency: str, doc_id: str, status: TransportStatus,
                      description: str = "") -> None:
        """``updateStatus``: the transport status of a received message (``processing``
        when picked up, then ``done``, or ``fail`` with the reason)."""
        header = {"from": agency, "docId": doc_id, "status": status}
        if description:
            header["description"] = description
        self._call("updateStatus", header)

    def get_sent_edoc_list(self, agency: str) -> list[SentStatus]:
        """``getSentEdocList``: what ``agency`` sent, with each addressee's status."""
        answer = self._call("getSentEdocList", {"from": agency, "servicetype": "eDoc",
                                                "messagetype": "edoc"})
        found = []
        for item in _items(answer, "data"):
            recipients = item.get("to")
            if not isinstance(recipients, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in recipients.items()):
                raise AxisMalformedAnswerError("getSentEdocList: 'to' is not a map of statuses")
            key = item.get("idempotencyKey")
            found.append(SentStatus(doc_id=_text(item, "id"), service_type=_service_type(item),
                                    recipients=dict(recipients),
                                    idempotency_key=key if isinstance(key, str) else None))
        return found

    def get_agencies_list(self) -> list[DirectoryEntry]:
        """``getAgenciesList``: the agencies connected to the axis."""
        answer = self._call("getAgenciesList", {})
        return [DirectoryEntry(code=_text(item, "code"), name=_text(item, "name"),
                               parent=_optional_text(item, "pcode"))
                for item in _items(answer, "data")]

    def close(self) -> None:
        self.http.close()

    # ---- plumbing -----------------------------------------------------------------

    def _call(self, operation: str, header: dict[str, str], **kw: Any) -> dict[str, Any]:
        return _answer(self._post(operation, header, **kw))

    def _post(self, operation: str, header: dict[str, str], *, content: bytes = b"",
              headers: dict[str, str] | None = None, stream: bool = False) -> httpx.Response:
        request = self.http.build_request(
            "POST", f"{self.url}/{operation}", content=content,
            headers={"jsonheader": json.dumps(header), **(headers or {})})
        try:
            response = self.http.send(request, stream=stream)
        except httpx.TimeoutException:
            raise AxisUnreachableError(
                f"the axis did not answer {operation} within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise AxisUnreachableError(
                f"the axis at {self.url} is unreachable: {exc or type(exc).__name__}") from None
        if response.status_code >= 500:
            response.read()
            raise AxisUnreachableError(f"the axis failed {operation}: "
                                       f"{response.status_code} {_description(response)}")
        return response


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON answer of a successful operation; its refusal as an error."""
    if response.status_code in (401, 403):
        raise AxisAuthError(f"the axis refused: {_description(response)}")
    try:
        answer = response.json()
    except ValueError:
        raise AxisMalformedAnswerError(
            f"the axis answered {response.status_code} with something that is not JSON"
        ) from None
    if not isinstance(answer, dict):
        raise AxisMalformedAnswerError("the axis's answer is not a JSON object")
    if response.status_code != 200 or answer.get("status") != "OK":
        raise AxisRefusedError(f"the axis refused: {_description(response)}",
                               status=response.status_code,
                               error_code=str(answer.get("ErrorCode", "")))
    return answer


def _description(response: httpx.Response) -> str:
    try:
        answer = response.json()
        text = str(answer.get("ErrorDesc", "")) if isinstance(answer, dict) else ""
    except ValueError:
        text = response.text
    return " ".join(text.split())[:REASON_CHARS] or response.reason_phrase


def _items(answer: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = answer.get(key)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise AxisMalformedAnswerError(f"the axis's '{key}' is not a list of objects")
    return items


def _text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise AxisMalformedAnswerError(f"the axis's answer lacks the text '{key}'")
    return value


def _optional_text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AxisMalformedAnswerError(f"the axis's '{key}' is not text")
    return value


def _service_type(item: dict[str, Any]) -> ServiceType:
    value = item.get("servicetype")
    if value == "eDoc":
        return "eDoc"
    if value == "status":
        return "status"
    raise AxisMalformedAnswerError(f"unknown servicetype {value!r} in the axis's answer")
