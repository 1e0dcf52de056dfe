"""The CLI's port: the local and the remote session answer the same calls, and what
a remote session cannot do it refuses with an error the CLI maps to exit 2."""

from __future__ import annotations

import inspect

import pytest

from api.cli import exit_code_for
from api.remote import RemoteSession
from api.session import LedgerSession, LocalSession
from domain.errors import InvalidInputError
from tests.factories import SENDER

PORT = [name for name, member in vars(LedgerSession).items()
        if inspect.isfunction(member) and not name.startswith("_")]


@pytest.mark.parametrize("side", [LocalSession, RemoteSession])
@pytest.mark.parametrize("name", PORT)
def test_each_session_answers_every_call_of_the_port_with_its_parameters(
        side: type, name: str) -> None:
    declared = inspect.signature(getattr(LedgerSession, name)).parameters
    implemented = inspect.signature(getattr(side, name)).parameters
    assert list(implemented) == list(declared)


@pytest.fixture
def remote() -> RemoteSession:
    return RemoteSession("http://127.0.0.1:9", key=None)  # never reached: refused first


def test_a_remote_session_refuses_to_make_an_agency_key_on_the_server(
        remote: RemoteSession) -> None:
    with pytest.raises(InvalidInputError, match="give the agency's --pubkey") as refused:
        remote.new_agency_key(SENDER)
    assert exit_code_for(refused.value) == 2


def test_a_remote_session_refuses_to_issue_a_checkpoint(remote: RemoteSession) -> None:
    with pytest.raises(InvalidInputError, match="only the ledger signs checkpoints") as refused:
        remote.issue_checkpoint()
    assert exit_code_for(refused.value) == 2


def test_a_remote_read_names_who_reads(remote: RemoteSession) -> None:
    with pytest.raises(InvalidInputError, match="say who reads: --as CODE"):
        remote.status(None, "6f1c3a52-0d2b-4c1e-9a57-2b9d8f4e7a10", None)


def test_a_remote_session_without_a_key_file_refuses_to_sign(remote: RemoteSession) -> None:
    with pytest.raises(InvalidInputError, match="give --key FILE"):
        remote.upload(SENDER, b"%PDF-1.4")
