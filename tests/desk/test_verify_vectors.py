"""The browser's bundle verifier (api/desk/static/js/verify/) against Python's
``verify_bundle`` on the same vectors: the same verdict, the same failing step,
the same event named. One browser page runs every vector."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from domain.evidence.policy import Policy
from domain.exchange.catalogue import CATALOGUE
from domain.verification.bundle import verify_bundle
from domain.verification.bundle_parse import STEPS
from infrastructure.settings import Settings
from tests.contract.test_gateway_bundle import Exchange
from tests.desk.static_server import static_server
from tests.desk.verify_vectors import (
    WHERE,
    Vector,
    algorithm_vectors,
    certificate_vectors,
    demo_vector,
    gateway_vectors,
    pdf_vectors,
    vectors,
    witnessed_vectors,
)
from tests.pki import TestPKI, running_pki

RUN_ALL = """async (vectors) => {
  const { verifyBundle } = await import("/js/verify/bundle.js");
  const { parsePolicy } = await import("/js/verify/policy.js");
  const out = [];
  for (const v of vectors) {
    const steps = [], lines = [], byStep = {};
    const policy = v.policy === null ? null : await parsePolicy(v.policy);
    const result = await verifyBundle(v.bundle, v.vkey, (s) => {
      steps.push(s.step);
      lines.push(...s.lines);
      byStep[s.step] = { lines: s.lines, unchecked: s.unchecked.length };
    }, policy);
    out.push({ name: v.name, ok: result.ok, step: result.ok ? null : result.step,
               error: result.ok ? null : result.error, passed: steps, lines,
               unchecked: result.unchecked.length, byStep,
               summary: result.ok ? result.summary : null });
  }
  return out;
}"""


@pytest.fixture(scope="module")
def page(browser: Any) -> Iterator[Any]:
    """One page on the desk's static files (no ledger needed) for every vector."""
    with static_server() as base:
        page = browser.new_page()
        page.goto(f"{base}/js/verify/bundle.js")
        yield page
        page.close()


def test_the_browser_gives_python_s_verdict_on_every_vector(page: Any) -> None:
    cases = vectors() + algorithm_vectors()
    expected = {v.name: v.verdict() for v in cases}
    results = page.evaluate(RUN_ALL, [v.as_json() for v in cases])
    assert [r["name"] for r in results] == [v.name for v in cases]
    for got in results:
        want = expected[got["name"]]
        where = WHERE.search(got["error"] or "")
        assert (got["ok"], got["step"], where.group(0) if where else None) == (
            want["ok"], want["step"], want["where"]), (got, want)
        # every step before the failing one passed, in order; none after it ran
        last = max(STEPS) if got["ok"] else got["step"] - 1
        assert got["passed"] == list(range(1, last + 1)), got
        if got["ok"]:  # these bundles hold no certificate, time-stamp or message bytes
            assert got["unchecked"] == 0, got
    assert {r["name"] for r in results if r["ok"]} == {
        "valid", "golden", "golden-v2", "every algorithm"}


def test_witness_policies_get_python_s_verdict_in_the_browser(page: Any) -> None:
    cases = witnessed_vectors()
    results = {r["name"]: r for r in page.evaluate(RUN_ALL, [v.as_json() for v in cases])}
    for case in cases:
        want, got = case.verdict(), results[case.name]
        assert (got["ok"], got["step"], got["error"]) == (
            want["ok"], want["step"], want["error"]), (got, want)
    python_lines: list[str] = []
    verify_bundle(cases[0].bundle, cases[0].vkey, lambda n, text: python_lines.append(text),
                  policy=Policy.parse(cases[0].policy or ""))
    assert results[cases[0].name]["lines"][1] == python_lines[1]  # "...met: cosigned by w1 at"


def test_the_browser_s_catalogue_is_the_ledger_s(page: Any) -> None:
    table = page.evaluate("""async () =>
        (await import("/js/verify/catalogue.js")).CATALOGUE""")
    assert table == {kind: [entry.role.name, sorted(entry.writes)]
                     for kind, entry in CATALOGUE.items()}


def test_the_browser_s_steps_are_verify_bundle_s(page: Any) -> None:
    steps = page.evaluate("""async () =>
        (await import("/js/verify/bundle.js")).STEPS""")
    assert {int(n): name for n, name in steps.items()} == STEPS


def made_apart(make: Callable[..., list[Vector] | Vector], *args: Any) -> Any:
    """Vectors made on a thread of their own: pyHanko signs with asyncio.run, which
    cannot run on the thread where Playwright's event loop runs."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(make, *args).result()


def python_lines(vector: Any, step: int) -> list[str]:
    lines: list[str] = []
    verify_bundle(vector.bundle, vector.vkey,
                  lambda n, text: lines.append(text) if n == step else None)
    return lines


def test_pdf_reports_and_stamped_copies_get_python_s_verdict_in_the_browser(
        page: Any, settings: Settings, pki: TestPKI) -> None:
    cases: list[Vector] = made_apart(pdf_vectors, settings, pki)
    results = {r["name"]: r for r in page.evaluate(RUN_ALL, [v.as_json() for v in cases])}
    for case in cases:
        want, got = case.verdict(), results[case.name]
        where = WHERE.search(got["error"] or "")
        assert (got["ok"], got["step"], where.group(0) if where else None) == (
            want["ok"], want["step"], want["where"]), (got, want)
        assert got["error"] == want["error"], (got, want)
    valid = results["signed PDF reported and stamped"]
    assert valid["ok"] and valid["passed"] == list(range(1, 12))
    # the report listed as verify-bundle lists it without the file; its re-check is
    # pyHanko's, on the server: the step is marked as not checked here
    assert valid["byStep"]["11"]["lines"] == python_lines(cases[0], 11)
    assert "valid, coverage entire-file" in valid["byStep"]["11"]["lines"][0]
    assert valid["byStep"]["11"]["unchecked"] == 1 == valid["unchecked"]
    (reported,) = valid["summary"]["attachments"]
    assert (reported["verdict"], reported["rechecked"]) == ("valid", False)
    assert {r["step"] for n, r in results.items() if not r["ok"]} == {8}


def test_a_bundle_without_pdf_reports_says_nothing_at_step_11(page: Any) -> None:
    (case,) = [v for v in vectors() if v.name == "valid"]
    (got,) = page.evaluate(RUN_ALL, [case.as_json()])
    assert got["byStep"]["11"] == {"lines": [], "unchecked": 0}
    assert python_lines(case, 11) == []


def test_the_demo_s_document_gets_python_s_verdict_and_lines_in_the_browser(
        page: Any, settings: Settings) -> None:
    case: Vector = made_apart(demo_vector, settings)
    (got,) = page.evaluate(RUN_ALL, [case.as_json()])
    assert case.verdict()["ok"] and got["ok"], got
    assert got["passed"] == list(range(1, 12))
    for step in (8, 10, 11):
        assert got["byStep"][str(step)]["lines"] == python_lines(case, step), step
    assert "not re-checked (the file was not given)" in got["byStep"]["11"]["lines"][0]


def test_gateway_receipts_get_python_s_verdict_in_the_browser(
        page: Any, settings: Settings) -> None:
    exchange = Exchange(settings)
    try:
        cases = gateway_vectors(exchange)
    finally:
        exchange.service.close()
    results = {r["name"]: r for r in page.evaluate(RUN_ALL, [v.as_json() for v in cases])}
    for case in cases:
        want, got = case.verdict(), results[case.name]
        assert (got["ok"], got["step"]) == (want["ok"], want["step"]), (got, want)
    assert results["gateway receipts with their bytes"]["ok"]
    # the trace headers read again from the bytes need an edXML reader: not here
    assert results["gateway receipts with their bytes"]["unchecked"] == 1
    assert results["gateway receipts without bytes"]["unchecked"] == 0
    assert results["gateway receipt with altered bytes"]["step"] == 9


def test_certificate_backed_keys_verify_in_the_browser_but_their_certificates(
        page: Any, settings: Settings) -> None:
    with running_pki("Desk PKI") as pki:
        cases = certificate_vectors(settings, pki)
    results = {r["name"]: r for r in page.evaluate(RUN_ALL, [v.as_json() for v in cases])}
    for case in cases:
        want, got = case.verdict(), results[case.name]
        assert (got["ok"], got["step"]) == (want["ok"], want["step"]), (got, want)
    # verified, and honest about it: the certificate's path is checked only by the server
    assert results["certificate-backed key"]["ok"]
    assert results["certificate-backed key"]["unchecked"] >= 1
    assert results["certificate without its trust anchors"]["step"] == 6
