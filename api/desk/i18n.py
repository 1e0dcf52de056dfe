"""The desk's words in Vietnamese (the default) and English: one dict per language."""

from __future__ import annotations

from collections.abc import Callable

LANGS = ("vi", "en")
DEFAULT = "vi"
COOKIE = "lang"

VI: dict[str, str] = {
    "app": "Bàn làm việc văn thư",
    "nav.inbox": "Văn bản đến",
    "nav.outbox": "Văn bản đi",
    "nav.send": "Gửi văn bản",
    "nav.search": "Tìm kiếm",
    "nav.registers": "Sổ đăng ký",
    "nav.statistics": "Thống kê",
    "nav.audit": "Kiểm toán",
    "nav.signout": "Đăng xuất",
    "nav.lang": "English",
    "nav.skip": "Bỏ qua đến nội dung",
    "signed_in_as": "Đơn vị",
    "placeholder": "Trang này đang được xây dựng.",
    "signin.title": "Đăng nhập bằng khóa của cơ quan",
    "signin.agency": "Mã định danh cơ quan",
    "signin.key": "Tệp khóa bí mật (PEM)",
    "signin.staff": "Người thao tác",
    "signin.submit": "Đăng nhập",
    "signin.note": "Khóa bí mật không rời khỏi trình duyệt: trình duyệt nhập khóa, ký "
                   "thử thách của máy chủ và giữ khóa ở dạng không thể xuất ra.",
    "signin.use_stored": "Dùng khóa đã lưu",
    "signin.working": "Đang đăng nhập…",
    "error": "Lỗi",
}

EN: dict[str, str] = {
    "app": "Clerk's desk",
    "nav.inbox": "Inbox",
    "nav.outbox": "Outbox",
    "nav.send": "Send",
    "nav.search": "Search",
    "nav.registers": "Registers",
    "nav.statistics": "Statistics",
    "nav.audit": "Audit",
    "nav.signout": "Sign out",
    "nav.lang": "Tiếng Việt",
    "nav.skip": "Skip to content",
    "signed_in_as": "Agency",
    "placeholder": "This page is being built.",
    "signin.title": "Sign in with the agency's key",
    "signin.agency": "Agency code",
    "signin.key": "Private key file (PEM)",
    "signin.staff": "Acting person",
    "signin.submit": "Sign in",
    "signin.note": "The private key never leaves the browser: the browser imports it, "
                   "signs the server's challenge and keeps the key non-extractable.",
    "signin.use_stored": "Use the stored key",
    "signin.working": "Signing in…",
    "error": "Error",
}

CATALOGS: dict[str, dict[str, str]] = {"vi": VI, "en": EN}


def add(vi: dict[str, str], en: dict[str, str]) -> None:
    """Add a page's words (each desk module adds its own, both languages)."""
    missing = set(vi) ^ set(en)
    if missing:
        raise ValueError(f"i18n: keys in one language only: {sorted(missing)}")
    VI.update(vi)
    EN.update(en)


def lang_of(value: str | None) -> str:
    return value if value in LANGS else DEFAULT


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)``: the word in ``lang`` (the key itself if none, to be seen)."""
    catalog = CATALOGS[lang_of(lang)]

    def t(key: str, **values: object) -> str:
        text = catalog.get(key, key)
        return text.format(**values) if values else text

    return t
