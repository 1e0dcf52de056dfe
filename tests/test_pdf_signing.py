"""The PDFs the demo and the tests make: text a standard font can show, and readable."""

from __future__ import annotations

from datetime import UTC, datetime

from infrastructure.pdf_signatures import read_signatures
from infrastructure.pdf_signing import one_page_pdf, plain_text


def test_vietnamese_text_loses_its_diacritics_only() -> None:
    assert plain_text("Sở Nội vụ tỉnh Bình An, ngày 01 tháng 12") == \
        "So Noi vu tinh Binh An, ngay 01 thang 12"
    assert plain_text("ĐỀ ÁN đổi mới → 2027") == "DE AN doi moi ? 2027"


def test_a_line_cannot_break_out_of_its_pdf_string() -> None:
    data = one_page_pdf(["Kế hoạch (dự thảo) \\ Tj ET"])
    assert b"(Ke hoach \\(du thao\\) \\\\ Tj ET) Tj" in data


def test_an_unsigned_page_reads_as_a_pdf_without_signatures() -> None:
    data = one_page_pdf(["Quyet dinh so 12", "Ha Noi"], width=595, height=842)
    assert data.startswith(b"%PDF-")
    found = read_signatures(data, anchors=[], at=datetime.now(UTC))
    assert found.problem is None and found.verdict == "absent"
