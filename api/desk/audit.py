"""The auditor's page: a bundle verified step by step in the browser (docs/desk.md,
"The auditor's page").

The page is public: verifying a bundle file needs no session and no key but the
ledger's verifier key the auditor pins in the browser. Opening a bundle by
document id reads it with the session's rights, as ``GET /v1/documents/{id}/bundle``
answers a signed request: an auditor's session any document's, an agency's the
documents it is party to. The server only hands the bundle over; the browser
verifies it (api/desk/static/js/verify/).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.desk import i18n
from api.desk.deps import OptionalSession, ReaderSession, caller_of
from api.desk.templating import render
from api.http.deps import ContainerDep
from api.http.routes import documents
from domain.verification.bundle_parse import STEPS

router = APIRouter(prefix="/desk", include_in_schema=False)

i18n.add(
    {
        "audit.title": "Kiểm toán: xác minh gói chứng cứ",
        "audit.intro": "Trình duyệt kiểm tra gói chứng cứ của một văn bản theo đúng các bước "
                       "của lệnh docledger verify-bundle, từng bước một, bằng khóa của sổ cái "
                       "mà bạn đã ghim.",
        "audit.pin": "Khóa xác minh của sổ cái (đã ghim)",
        "audit.pin.help": "Dán khóa do docledger checkpoint --vkey in ra, nhận từ sổ cái qua "
                          "một kênh bạn tin cậy. Khóa được ghi nhớ trong trình duyệt này.",
        "audit.pin.button": "Ghim khóa",
        "audit.pin.forget": "Bỏ ghim",
        "audit.pin.none": "Chưa ghim khóa nào: chưa thể xác minh.",
        "audit.pin.current": "Đang ghim",
        "audit.policy": "Chính sách nhân chứng (không bắt buộc)",
        "audit.policy.help": "Tệp chính sách c2sp.org/tlog-policy như verify-bundle --policy: "
                             "bước 2 khi đó đòi đủ chữ ký đồng ký của nhân chứng.",
        "audit.policy.current": "chính sách nhân chứng, ngưỡng",
        "audit.open": "Mở gói chứng cứ",
        "audit.file": "Tệp gói (JSON, do docledger bundle tạo)",
        "audit.by_id": "Hoặc mã văn bản (tải từ máy chủ bằng phiên đăng nhập)",
        "audit.fetch": "Tải và xác minh",
        "audit.signin": "Đăng nhập (kiểm toán viên: auditor/<mã>) để tải gói theo mã văn bản.",
        "audit.steps": "Các bước xác minh",
        "audit.verdict": "Kết luận",
        "audit.status.pending": "chưa chạy",
        "audit.status.ok": "đạt",
        "audit.status.partial": "đạt (có phần chỉ máy chủ kiểm)",
        "audit.status.failed": "không đạt",
        "audit.status.not_reached": "không tới",
        "audit.verdict.ok": "Gói chứng cứ hợp lệ với khóa đã ghim.",
        "audit.verdict.partial": "Hợp lệ với mọi bước trình duyệt kiểm được; các mục đánh dấu "
                                 "chỉ được docledger verify-bundle kiểm.",
        "audit.verdict.failed": "Gói chứng cứ KHÔNG hợp lệ",
        "audit.verdict.unreadable": "Tệp không phải JSON",
        "audit.not_here": "Không kiểm trong trình duyệt",
        "audit.trust": "Kết luận chỉ đáng tin trong chừng mực khóa đã ghim là khóa thật của "
                       "sổ cái: một gói do người khác ký bằng khóa của họ sẽ hợp lệ với khóa "
                       "của họ.",
        **{f"audit.step.{n}": name for n, name in {
            1: "Định dạng", 2: "Điểm kiểm (checkpoint)", 3: "Chứng minh có mặt trong sổ",
            4: "Đầy đủ", 5: "Khởi tạo sổ cái", 6: "Lịch sử khóa", 7: "Chữ ký",
            8: "Lệnh", 9: "Biên nhận cổng trục", 10: "Tóm tắt",
            11: "Chữ ký trên tệp PDF"}.items()},
    },
    {
        "audit.title": "Audit: verify an evidence bundle",
        "audit.intro": "The browser checks a document's audit bundle with the steps of "
                       "docledger verify-bundle, one by one, against the ledger key you pinned.",
        "audit.pin": "The ledger's verifier key (pinned)",
        "audit.pin.help": "Paste the key docledger checkpoint --vkey prints, obtained from the "
                          "ledger over a channel you trust. This browser remembers it.",
        "audit.pin.button": "Pin key",
        "audit.pin.forget": "Unpin",
        "audit.pin.none": "No key pinned: nothing can be verified yet.",
        "audit.pin.current": "Pinned",
        "audit.policy": "Witness policy (optional)",
        "audit.policy.help": "A c2sp.org/tlog-policy file as verify-bundle --policy takes: step "
                             "2 then requires the witnesses' cosignatures to meet its quorum.",
        "audit.policy.current": "witness policy, quorum",
        "audit.open": "Open a bundle",
        "audit.file": "Bundle file (JSON, as docledger bundle writes it)",
        "audit.by_id": "Or a document id (fetched from the server with your session)",
        "audit.fetch": "Fetch and verify",
        "audit.signin": "Sign in (auditors: auditor/<id>) to fetch a bundle by document id.",
        "audit.steps": "Verification steps",
        "audit.verdict": "Verdict",
        "audit.status.pending": "not run",
        "audit.status.ok": "passed",
        "audit.status.partial": "passed (some checks by the server only)",
        "audit.status.failed": "failed",
        "audit.status.not_reached": "not reached",
        "audit.verdict.ok": "The bundle verifies against the pinned key.",
        "audit.verdict.partial": "Verified in every step the browser can check; the items "
                                 "marked are checked only by docledger verify-bundle.",
        "audit.verdict.failed": "The bundle does NOT verify",
        "audit.verdict.unreadable": "The file is not JSON",
        "audit.not_here": "Not checked in the browser",
        "audit.trust": "The verdict is worth only as much as the pinned key is the ledger's "
                       "own: a bundle someone signed with their key verifies with theirs.",
        **{f"audit.step.{n}": name for n, name in {
            1: "Format", 2: "Checkpoint", 3: "Inclusion", 4: "Completeness", 5: "Genesis",
            6: "Key histories", 7: "Signatures", 8: "Commands", 9: "Gateway receipts",
            10: "Summary", 11: "PDF signatures"}.items()},
    },
)


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request, session: OptionalSession) -> HTMLResponse:
    """Public: verifying a bundle file needs no session (an auditor may hold no key)."""
    who = None if session is None else (
        f"auditor/{session.agency}" if session.kind == "auditor" else session.agency)
    return render(request, "audit.html", agency=who, steps=sorted(STEPS))


@router.get("/api/bundle/{document}")
def bundle(document: documents.DocumentPath, session: ReaderSession,
           c: ContainerDep) -> dict[str, Any]:
    """The document's bundle for the session's party, as the API answers it."""
    return documents.bundle(document, caller_of(session), c)
