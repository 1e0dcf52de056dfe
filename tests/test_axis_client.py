"""The axis client's errors, against the local axis and against sockets that fail:
each failure is one typed error with the exit code the tool documents."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from api.cli import exit_code_for
from infrastructure.axis_client import (
    AxisAuthError,
    AxisClient,
    AxisMalformedAnswerError,
    AxisRefusedError,
    AxisUnreachableError,
)
from tests.axis_server import AxisServer
from tests.axis_support import document, local_axis
from tests.factories import RECIPIENT, SENDER


@pytest.fixture(scope="module")
def axis() -> Iterator[AxisServer]:
    server = AxisServer(local_axis()).start()
    yield server
    server.stop()


def test_an_axis_nobody_listens_on_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(AxisUnreachableError) as caught:
        AxisClient(f"http://127.0.0.1:{port}", system_id="s", secret="x").get_agencies_list()
    assert exit_code_for(caught.value) == 9


def test_an_axis_that_does_not_answer_times_out_as_unreachable() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(AxisUnreachableError, match="within 0.2 s"):
            AxisClient(url, system_id="s", secret="x", timeout=0.2).get_agencies_list()


def test_a_wrong_secret_is_refused_as_forbidden(axis: AxisServer) -> None:
    with pytest.raises(AxisAuthError) as caught:
        AxisClient(axis.url, system_id="vxp.h41", secret="guess").get_agencies_list()
    assert exit_code_for(caught.value) == 5


def test_a_system_acting_for_another_agency_is_refused(axis: AxisServer) -> None:
    h41 = AxisClient(axis.url, system_id="vxp.h41", secret="secret-h41")
    with pytest.raises(AxisAuthError, match="does not act for"):
        h41.send_edoc(SENDER, document(SENDER, [RECIPIENT], 9), "eDoc", idempotency_key="k")


def test_a_message_whose_from_is_not_the_sender_is_refused(axis: AxisServer) -> None:
    h41 = AxisClient(axis.url, system_id="vxp.h41", secret="secret-h41")
    with pytest.raises(AxisRefusedError, match="From") as caught:
        h41.send_edoc(RECIPIENT, document(SENDER, [RECIPIENT], 9), "eDoc", idempotency_key="k")
    assert caught.value.status == 400 and exit_code_for(caught.value) == 6


def test_an_idempotency_key_reused_for_another_message_is_refused(axis: AxisServer) -> None:
    g22 = AxisClient(axis.url, system_id="vxp.g22", secret="secret-g22")
    first = g22.send_edoc(SENDER, document(SENDER, [RECIPIENT], 10), "eDoc", idempotency_key="r")
    assert g22.send_edoc(SENDER, document(SENDER, [RECIPIENT], 10), "eDoc",
                         idempotency_key="r") == first
    with pytest.raises(AxisRefusedError, match="another message"):
        g22.send_edoc(SENDER, document(SENDER, [RECIPIENT], 11), "eDoc", idempotency_key="r")
    [sent] = [s for s in g22.get_sent_edoc_list(SENDER) if s.doc_id == first]
    assert sent.recipients == {RECIPIENT: "new"} and sent.idempotency_key == "r"


@pytest.mark.parametrize("answer", [
    httpx.Response(200, text="<html>a proxy's page</html>"),
    httpx.Response(200, json=["not", "an", "object"]),
    httpx.Response(200, json={"status": "OK", "data": [{"code": 7, "name": "x"}]}),
    httpx.Response(200, json={"status": "OK"}),
], ids=["not-json", "not-an-object", "code-not-text", "no-data"])
def test_an_answer_outside_the_interface_is_malformed(answer: httpx.Response) -> None:
    axis = AxisClient("http://axis.invalid", system_id="s", secret="x",
                      transport=httpx.MockTransport(lambda request: answer))
    with pytest.raises(AxisMalformedAnswerError) as caught:
        axis.get_agencies_list()
    assert exit_code_for(caught.value) == 3
