"""DOCLEDGER_EDXML_SIGNATURE and DOCLEDGER_EDXML_TRUST: the XML signature policy and roots."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from domain.errors import InvalidInputError
from domain.exchange.edxml_signature import check_xml_signature
from infrastructure.settings import Settings
from tests.edxml_signing import pki, sample, sign


def test_policy_defaults_to_record_and_reads_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().edxml_signature == "record"
    monkeypatch.setenv("DOCLEDGER_EDXML_SIGNATURE", "require-valid")
    assert Settings().edxml_signature == "require-valid"
    monkeypatch.setenv("DOCLEDGER_EDXML_SIGNATURE", "refuse-invalid")
    assert Settings().edxml_signature == "refuse-invalid"


def test_unknown_policy_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCLEDGER_EDXML_SIGNATURE", "accept-anything")
    with pytest.raises(ValidationError):
        Settings()


def test_trust_file_gives_the_anchors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().edxml_trust_anchors() == []
    roots = tmp_path / "edxml-roots.pem"
    roots.write_bytes(pki().root.pem)
    monkeypatch.setenv("DOCLEDGER_EDXML_TRUST", str(roots))
    anchors = Settings().edxml_trust_anchors()
    evidence = check_xml_signature(sign(sample("status-01-arrived.edxml"), pki().rsa), anchors)
    assert evidence.chain_trusted is True


def test_missing_trust_file_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(edxml_trust=tmp_path / "missing.pem")
    with pytest.raises(InvalidInputError, match="DOCLEDGER_EDXML_TRUST"):
        settings.edxml_trust_anchors()
