from tests.contract.test_tamper import *  # noqa
from tests.contract.test_tamper import history  # noqa

RECORD = "domain.command_log:CommandRecord.Accepted"

def _groups(rows):
    heads = [i for i, r in enumerate(rows) if r[3] == RECORD] + [len(rows)]
    return [rows[s:e] for s, e in zip(heads, heads[1:])]

def test_probe_delete_last_group(history):
    g = _groups(history.rows())[-1]
    for r in g: history.delete(r[0])
    audit_unchanged(history)

def test_probe_delete_middle_refuse_group(history):
    g = next(g for g in _groups(history.rows()) if g[1][3].endswith("Delivery.Refused"))
    for r in g: history.delete(r[0])
    audit_unchanged(history)
