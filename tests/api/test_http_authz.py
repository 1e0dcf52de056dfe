"""Who may read what: every read endpoint × every kind of caller, one test id per cell.

Parties: the document's sender, its recipient, a third agency, an auditor, an
unsigned request, and the recipient signing with a key the registrar revoked. The
recipient also holds a gateway receipt of a message the axis delivered to it.
One ledger per backend serves the whole matrix (no cell writes anything but
fresh attachment bytes).
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.client import LedgerClient
from domain.evidence.keys import Ed25519Signer
from infrastructure.gateway import record_receipt
from infrastructure.ledger import DataFolder
from infrastructure.settings import Settings
from tests.api.test_http_reads import api, attachment, auditor_client, register_auditor
from tests.conftest import PG
from tests.factories import OTHER, RECIPIENT, SENDER, World, header
from tests.views_support import vn_today

PARTIES = ("sender", "recipient", "third", "auditor", "anonymous", "revoked")
ALL_401 = {"anonymous": 401, "revoked": 401}
OWNER_ONLY = {"sender": 403, "recipient": 403, "third": 403, "auditor": 403, **ALL_401}

# endpoint -> (method, path template, expected status per party)
MATRIX: dict[str, tuple[str, str, dict[str, int]]] = {
    "inbox": ("GET", "/v1/agencies/{recipient}/inbox", {**OWNER_ONLY, "recipient": 200}),
    "outbox": ("GET", "/v1/agencies/{sender}/outbox", {**OWNER_ONLY, "sender": 200}),
    "register-json": ("GET", "/v1/agencies/{recipient}/registers/incoming/{year}",
                      {**OWNER_ONLY, "recipient": 200}),
    "register-csv": ("GET", "/v1/agencies/{recipient}/registers/incoming/{year}?format=csv",
                     {**OWNER_ONLY, "recipient": 200}),
    "search": ("GET", "/v1/agencies/{recipient}/search?q=quyet+dinh",
               {**OWNER_ONLY, "recipient": 200}),
    "statistics": ("GET", "/v1/agencies/{recipient}/statistics",
                   {**OWNER_ONLY, "recipient": 200}),
    "inbox-stream": ("GET", "/v1/agencies/{recipient}/inbox/stream?timeout=0.1",
                     {**OWNER_ONLY, "recipient": 200}),
    "status": ("GET", "/v1/documents/{doc}/status",
               {"sender": 200, "recipient": 200, "third": 404, "auditor": 403, **ALL_401}),
    "history": ("GET", "/v1/documents/{doc}/history",
                {"sender": 200, "recipient": 200, "third": 404, "auditor": 200, **ALL_401}),
    "bundle": ("GET", "/v1/documents/{doc}/bundle",
               {"sender": 200, "recipient": 200, "third": 404, "auditor": 200, **ALL_401}),
    "edxml": ("GET", "/v1/documents/{doc}/edxml",
              {"sender": 200, "recipient": 200, "third": 404, "auditor": 403, **ALL_401}),
    "status-edxml": ("GET", "/v1/documents/{doc}/status/{recipient}/edxml",
                     {"sender": 200, "recipient": 200, "third": 404, "auditor": 403,
                      **ALL_401}),
    "status-of-missing": ("GET", "/v1/documents/{missing}/status",
                          {"sender": 404, "recipient": 404, "third": 404, "auditor": 404,
                           **ALL_401}),
    "attachment-get": ("GET", "/v1/attachments/{sha256}",
                       {"sender": 200, "recipient": 200, "third": 404, "auditor": 404,
                        **ALL_401}),
    # every agency reads the events naming it (possibly none), an auditor all of them
    "log-events": ("GET", "/v1/log/events",
                   {"sender": 200, "recipient": 200, "third": 200, "auditor": 200, **ALL_401}),
    # the receipt's agency and auditors read a gateway receipt; to anyone else it is unknown
    "gateway-receipt": ("GET", "/v1/gateway/receipts/{receipt}",
                        {"sender": 404, "recipient": 200, "third": 404, "auditor": 200,
                         **ALL_401}),
    "attachment-put": ("PUT", "/v1/attachments/{new}",
                       {"sender": 201, "recipient": 201, "third": 201, "auditor": 403,
                        **ALL_401}),
}

_fresh = itertools.count()


@dataclass
class Matrix:
    world: World
    http: TestClient
    callers: dict[str, LedgerClient | None]
    values: dict[str, str]


def _settings(backend: str, tmp: Path) -> Iterator[Settings]:
    if backend == "sqlite":
        yield Settings(data=tmp / "data", backend="sqlite")
        return
    schema = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield Settings(data=tmp / "data", backend="postgres", pg_db=PG["dbname"],
                       pg_schema=schema)
    finally:
        with psycopg.connect(**PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def matrix(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    if request.param == "postgres":
        request.getfixturevalue("postgres_available")
    settings_gen = _settings(request.param, tmp_path_factory.mktemp("authz"))
    world = World.create(next(settings_gen))
    try:
        data = b"%PDF-1.7 matrix"
        with api(world) as http:
            sender = LedgerClient("http://testserver", SENDER, world.keys[SENDER], http=http)
            assert http.put(f"/v1/attachments/{hashlib.sha256(data).hexdigest()}", content=data,
                            headers={"content-type": "application/octet-stream"},
                            auth=sender.auth).status_code == 201
            doc = str(world.act(SENDER, "document.create", {
                "document_id": "G22,matrix", "header": header(),
                "attachments": [attachment(data)]}).result["document"])
            world.act(SENDER, "document.sign", {"document": doc,
                                                "signer": {"full_name": "Nguyễn Văn B"}})
            world.act(SENDER, "document.issue", {"document": doc})
            world.act(SENDER, "document.send", {"document": doc, "recipients": [RECIPIENT]})
            world.act(RECIPIENT, "delivery.accept", {"document": doc})
            message = b"<edXML>the axis delivered this to the recipient</edXML>"
            record_receipt(world.app, DataFolder(world.settings.data).blobs, direction="in",
                           agency=RECIPIENT, axis_id="axis-matrix", service_type="eDoc",
                           data=message)
            revoked = Ed25519Signer.generate()
            world.act("registrar", "agency.add_key",
                      {"code": RECIPIENT, "key": revoked.public_key.to_spec()})
            world.act("registrar", "agency.revoke_key",
                      {"code": RECIPIENT, "keyid": revoked.keyid, "reason": "key lost"})

            def agency(code: str, signer: Ed25519Signer | None = None) -> LedgerClient:
                return LedgerClient("http://testserver", code, signer or world.keys[code],
                                    http=http)  # type: ignore[arg-type]

            callers: dict[str, LedgerClient | None] = {
                "sender": agency(SENDER), "recipient": agency(RECIPIENT),
                "third": agency(OTHER), "auditor": auditor_client(http, register_auditor(world)),
                "anonymous": None, "revoked": agency(RECIPIENT, revoked)}
            values = {"sender": SENDER, "recipient": RECIPIENT, "doc": doc,
                      "missing": str(uuid.uuid4()), "sha256": hashlib.sha256(data).hexdigest(),
                      "year": str(vn_today(world).year),
                      "receipt": hashlib.sha256(message).hexdigest()}
            yield Matrix(world, http, callers, values)
    finally:
        world.app.close()
        next(settings_gen, None)


@pytest.mark.parametrize(("endpoint", "party"), [
    pytest.param(endpoint, party, id=f"{endpoint}-{party}")
    for endpoint in MATRIX for party in PARTIES])
def test_authorization(matrix: Matrix, endpoint: str, party: str) -> None:
    method, template, expected = MATRIX[endpoint]
    client = matrix.callers[party]
    auth = client.auth if client else None
    if method == "PUT":
        data = f"fresh bytes {next(_fresh)} {uuid.uuid4()}".encode()
        response = matrix.http.put(
            template.format(new=hashlib.sha256(data).hexdigest()), content=data,
            headers={"content-type": "application/octet-stream"}, auth=auth)
    else:
        response = matrix.http.get(template.format(**matrix.values), auth=auth)
    assert response.status_code == expected[party], response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
    if response.status_code == 401:
        assert response.headers["www-authenticate"].startswith("Signature")


def test_the_matrix_covers_every_read_endpoint() -> None:
    """A new read route must get a row here (public routes and commands excepted; POST
    /v1/edxml answers a plan of commands and records nothing: its 401/403 are tested in
    tests/api/test_edxml_http.py)."""
    from api.http.app import create_app

    public = {"/healthz", "/readyz", "/metrics", "/v1/whoami", "/v1/commands", "/v1/agencies",
              "/v1/agencies/{code}", "/v1/trust/anchors", "/checkpoint", "/tile/{path}",
              "/v1/edxml"}
    routes = {(method, path) for path, ops in create_app().openapi()["paths"].items()
              for method in ops if path not in public and not path.startswith("/v1/log/")}
    covered = {(m.lower(), t.split("?")[0]) for m, t, _ in MATRIX.values()}
    normalised = {(m, p.replace("{code}", "{recipient}").replace("{document}", "{doc}")
                   .replace("{direction}/{year}", "incoming/{year}")) for m, p in routes}
    missing = {r for r in normalised if not any(
        r[0] == m and _same_shape(r[1], t) for m, t in covered)}
    assert not missing


def _same_shape(path: str, template: str) -> bool:
    a, b = path.split("/"), template.split("/")
    return len(a) == len(b) and all(
        x == y or (x.startswith("{") and y.startswith("{")) for x, y in zip(a, b, strict=True))
