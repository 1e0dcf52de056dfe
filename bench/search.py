"""Search latency at scale (docs/search.md).

Fills the search rows of a views shadow directly (bulk inserts, not commands:
a million deliveries through the signed command path would take hours here):
documents with 1–5 recipients each until the recipients' rows reach
``--deliveries``, each document also with its sender's row; 2,000 agencies,
recipients Zipf-skewed (the busiest receives about an eighth of everything);
subjects drawn from Vietnamese phrases, some rare ("Đông Sơn"). Then builds the
readers' indexes and the full-text index as a rebuild does, and times typical
searches (pages of 50 rows) of the busiest agency and of random ones.
Baseline in the same run: one search row by key.

Backend from the environment: DOCLEDGER_BACKEND=postgres DOCLEDGER_PG_DB=…
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import date, timedelta
from functools import cache

from bench.scratch import scratch_settings
from bench.stats import median, percentile, timed
from domain.search_text import party_word, word_key, word_text
from infrastructure.ledger import init_ledger
from infrastructure.views.search import SearchQuery, search
from infrastructure.views.store import ViewStore

ACTIONS = ["Về việc triển khai", "Về việc phê duyệt", "Về việc báo cáo", "Về việc tổ chức",
           "Về việc kiểm tra", "Về việc hướng dẫn", "Về việc góp ý", "Về việc giao"]
TOPICS = ["kế hoạch chuyển đổi số", "dự toán ngân sách", "công tác phòng chống thiên tai",
          "chương trình xây dựng nông thôn mới", "đề án sắp xếp đơn vị hành chính",
          "nhiệm vụ cải cách hành chính", "quy hoạch sử dụng đất", "hội nghị tổng kết",
          "công tác tuyển sinh", "chỉ tiêu biên chế", "thi đua khen thưởng",
          "đầu tư công trung hạn", "bảo vệ môi trường", "an toàn thực phẩm"]
PLACES = ["tỉnh Thanh Hóa", "huyện Hoằng Hóa", "thành phố Sầm Sơn", "huyện Quảng Xương",
          "thị xã Bỉm Sơn", "huyện Nga Sơn", "huyện Thọ Xuân", "các xã miền núi"]
RARE = ["xã Đông Sơn", "làng nghề Đông Sơn", "di tích Lam Kinh"]
TYPES = [("Quyết định", "QĐ"), ("Công văn", "CV"), ("Thông báo", "TB"), ("Kế hoạch", "KH"),
         ("Báo cáo", "BC"), ("Tờ trình", "TTr")]
ORGANS = ["UBND", "SNV", "STC", "SKHĐT", "SGDĐT", "VP"]


@cache
def folded(text: str) -> str:
    return word_text(text)


def agencies(count: int) -> list[tuple[str, str]]:
    names = ["Sở Tài chính", "Sở Nội vụ", "Sở Kế hoạch và Đầu tư", "Ủy ban nhân dân huyện",
             "Ủy ban nhân dân xã", "Văn phòng"]
    return [(f"{i // 100:03d}.{i % 100:02d}.31.H29", f"{names[i % len(names)]} số {i}")
            for i in range(count)]


def fill(views: ViewStore, deliveries: int, count: int) -> tuple[list[str], str]:
    """Insert the rows; the agency codes (the busiest first) and one reference the
    busiest received."""
    rng = random.Random(7)
    parties = agencies(count)
    codes = [c for c, _ in parties]
    words_of = {c: word_text(f"{c} {n}") for c, n in parties}
    names = dict(parties)
    weights = [1 / (rank + 1) for rank in range(count)]
    start = date(2024, 1, 1)
    template = views.sql(
        "INSERT INTO {t:v_search} (seq, agency, party, document_id, role, sender, sender_name, "
        "reference, reference_key, subject, type_name, promulgated_on, sent_on, "
        "subject_words, meta_words, words) VALUES "
        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
    seq, made, number, batch = 0, 0, 0, []
    probe = ""
    while made < deliveries:
        number += 1
        sender = rng.choice(codes)
        type_name, short = rng.choice(TYPES)
        notation = f"{short}-{rng.choice(ORGANS)}"
        reference = f"{number}/{notation}"
        place = rng.choice(RARE) if rng.random() < 0.002 else rng.choice(PLACES)
        subject = f"{rng.choice(ACTIONS)} {rng.choice(TOPICS)} {place}"
        day = start + timedelta(days=number * 1000 // (deliveries // 3 + 1))
        subject_words = folded(f"{type_name} {subject}")
        meta = f" {number}{folded(notation)}{words_of[sender]}"
        common = (sender, names[sender], reference, word_key(reference), subject, type_name,
                  day.isoformat(), day.isoformat(), subject_words, meta, subject_words + meta)
        document = f"doc-{number}"
        seq += 1
        batch.append((seq, sender, party_word(sender), document, "sender", *common))
        for recipient in set(rng.choices(codes, weights, k=rng.randint(1, 5))) - {sender}:
            seq += 1
            made += 1
            batch.append((seq, recipient, party_word(recipient), document, "recipient",
                          *common))
            if recipient == codes[0]:
                probe = reference
        if len(batch) >= 20_000:
            with views.transaction() as c:
                c.executemany(template, batch)
            batch = []
    with views.transaction() as c:
        c.executemany(template, batch)
    return codes, probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--agencies", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    settings = scratch_settings("bench-search-")
    print(f"backend: {settings.backend}")
    app = init_ledger(settings)
    views = ViewStore(app, "__bench_search", indexes=False)
    started = time.perf_counter()
    codes, probe = fill(views, args.deliveries, args.agencies)
    filled = time.perf_counter() - started
    views.create_indexes()
    with views.transaction() as c:
        c.execute("ANALYZE")
    indexed = time.perf_counter() - started - filled
    rows = views.query("SELECT count(*) AS n FROM {t:v_search}")[0]["n"]
    busiest = views.query("SELECT count(*) AS n FROM {t:v_search} WHERE agency = %s",
                          [codes[0]])[0]["n"]
    print(f"{args.deliveries:,} deliveries ({rows:,} search rows) filled in {filled:.0f} s, "
          f"indexed in {indexed:.0f} s; the busiest agency is party to {busiest:,}")
    rng = random.Random(11)
    mid = views.query("SELECT seq FROM {t:v_search} WHERE agency = %s ORDER BY seq "
                      "LIMIT 1 OFFSET %s", [codes[0], busiest // 2])[0]["seq"]

    def find(agency: Callable[[], str], text: str, **kw: object) -> Callable[[], object]:
        return lambda: search(views, SearchQuery(agency=agency(), text=text, **kw))  # type: ignore[arg-type]

    top = lambda: codes[0]  # noqa: E731
    anyone = lambda: rng.choice(codes[:200])  # noqa: E731 - agencies that receive
    cases = {
        "busiest, common words (quyet dinh)": find(top, "quyet dinh"),
        "busiest, two words (ke hoach chuyen doi so)": find(top, "ke hoach chuyen doi so"),
        "busiest, rare words (dong son)": find(top, "dong son"),
        "busiest, no match (khong co van ban nay)": find(top, "khong co van ban nay"),
        "busiest, exact reference": find(top, probe),
        "busiest, sender's name (so tai chinh)": find(top, "so tai chinh"),
        "busiest, a date (promulgated or sent)": find(top, "15/06/2025"),
        "busiest, words within a month": find(top, "bao cao", start=date(2025, 3, 1),
                                              end=date(2025, 3, 31)),
        "busiest, second page of common words": find(top, "quyet dinh", after=(1, mid)),
        "random agency, common words (ve viec)": find(anyone, "ve viec"),
        "random agency, rare words (lam kinh)": find(anyone, "lam kinh"),
    }
    base = timed(lambda: views.query("SELECT * FROM {t:v_search} WHERE seq = %s",
                                     [rng.randint(1, rows)]), args.samples)
    print(f"{'figure':44} {'median ms':>10} {'p99 ms':>8} {'× baseline':>11}")
    results = [("baseline: one search row by key", base)]
    results += [(name, timed(fn, args.samples)) for name, fn in cases.items()]
    for name, s in results:
        print(f"{name:44} {median(s) * 1000:10.3f} {percentile(s, 99) * 1000:8.3f} "
              f"{median(s) / median(base):11.1f}")
    worst = max(percentile(s, 99) for _, s in results[1:])
    print(f"worst p99 {worst * 1000:.1f} ms (goal: under 50 ms)")
    views.drop()


if __name__ == "__main__":
    main()
