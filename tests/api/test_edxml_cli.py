"""``docledger edxml import`` and ``export`` on a data folder (run in-process: the
sub-app itself): each file as the acting agency's commands, again as recorded
before, and the export to a file or stdout."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli_edxml import edxml_app
from domain.errors import ForbiddenError
from domain.exchange.edxml.errors import EdxmlInvalidValueError
from domain.exchange.edxml.model import StatusMessage
from domain.exchange.edxml.parse import parse_edxml
from tests.contract.test_edxml_import import A80, G22, H41, ROUND_TRIPS, SHORT, Ledger, sample

runner = CliRunner()


def test_import_files_then_export_a_document_and_a_status(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l")
    data = str(ledger.world.settings.data)
    ledger.close()
    base = tmp_path / "base.edxml"
    base.write_bytes(ROUND_TRIPS["status-03-accepted.edxml"])
    accepted = tmp_path / "03.edxml"
    accepted.write_bytes(sample("status-03-accepted.edxml"))

    sent = runner.invoke(edxml_app, ["import", str(base), "--as", G22, "--data", data,
                                     "--json"])
    assert sent.exit_code == 0, sent.output
    doc = json.loads(sent.stdout)[0]["document"]
    done = runner.invoke(edxml_app, ["import", str(accepted), str(accepted), "--as", H41,
                                     "--data", data, "--json"])
    assert done.exit_code == 0, done.output
    assert [r["commands"][0]["recorded_before"] for r in json.loads(done.stdout)] == [
        False, True]
    wrong = runner.invoke(edxml_app, ["import", str(accepted), "--as", G22, "--data", data])
    assert isinstance(wrong.exception, ForbiddenError)

    out = tmp_path / "out.edxml"
    assert runner.invoke(edxml_app, ["export", doc, "-o", str(out), "--data", data]).exit_code == 0
    assert parse_edxml(out.read_bytes()).document_id == parse_edxml(  # type: ignore[union-attr]
        base.read_bytes()).document_id  # type: ignore[union-attr]
    status = runner.invoke(edxml_app, ["export", doc, "--to", H41, "--data", data])
    assert status.exit_code == 0, status.output
    message = parse_edxml(status.stdout_bytes)
    assert isinstance(message, StatusMessage) and message.status_code == "03"


def test_import_names_the_agency_a_short_organ_id_stands_for(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l")
    data = str(ledger.world.settings.data)
    ledger.close()
    message = tmp_path / "new.edxml"
    message.write_bytes(sample("document-new-with-attachment.edxml"))
    refused = runner.invoke(edxml_app, ["import", str(message), "--as", A80, "--data", data])
    assert isinstance(refused.exception, EdxmlInvalidValueError)
    bad = runner.invoke(edxml_app, ["import", str(message), "--as", A80, "--data", data,
                                    "--organ-id", "28.22.H17"])
    assert "ORGANID=CODE" in str(bad.exception)
    done = runner.invoke(edxml_app, ["import", str(message), "--as", A80, "--data", data,
                                     "--organ-id", f"28.22.H17={SHORT['28.22.H17']}",
                                     "--json"])
    assert done.exit_code == 0, done.output
    (result,) = json.loads(done.stdout)
    assert [c["type"] for c in result["commands"]][-1] == "document.send"
    assert result["signature"]["status"] == "invalid"  # the sample's, copied from another
