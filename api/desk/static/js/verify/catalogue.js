// The command catalogue (domain/exchange/catalogue.py): who gives each command
// and which records it writes. A test checks this table equals the Python one.

export const CATALOGUE = {
  "ledger.init": ["REGISTRAR", ["domain.root:LedgerRoot"]],
  "agency.register": ["REGISTRAR", ["domain.agency:Agency"]],
  "agency.add_key": ["KEY_HOLDER", ["domain.agency:Agency"]],
  "agency.revoke_key": ["KEY_HOLDER", ["domain.agency:Agency"]],
  "auditor.register": ["REGISTRAR", ["domain.auditor:Auditor"]],
  "auditor.revoke_key": ["REGISTRAR", ["domain.auditor:Auditor"]],
  "trust.add_anchor": ["REGISTRAR", ["domain.trust:TrustAnchors"]],
  "trust.remove_anchor": ["REGISTRAR", ["domain.trust:TrustAnchors"]],
  "agency.add_cert": ["KEY_HOLDER", ["domain.agency:Agency"]],
  "revocation.record": ["REGISTRAR", ["domain.revocation:RevocationEvidence"]],
  "document.create": ["SENDER", ["domain.document:Document"]],
  "document.sign": ["SENDER", ["domain.document:Document"]],
  "document.issue": ["SENDER", ["domain.document:Document", "domain.register:NumberRegister"]],
  "document.send": ["SENDER", ["domain.delivery:Delivery", "domain.document:Document"]],
  "document.revise": ["SENDER", ["domain.delivery:Delivery", "domain.document:Document"]],
  "delivery.accept": ["RECIPIENT", ["domain.delivery:Delivery", "domain.register:NumberRegister"]],
  "delivery.refuse": ["RECIPIENT", ["domain.delivery:Delivery"]],
  "delivery.assign": ["RECIPIENT", ["domain.delivery:Delivery"]],
  "delivery.progress": ["RECIPIENT", ["domain.delivery:Delivery"]],
  "delivery.complete": ["RECIPIENT", ["domain.delivery:Delivery"]],
  "delivery.recall": ["SENDER", ["domain.delivery:Delivery"]],
  "delivery.answer_recall": ["RECIPIENT", ["domain.delivery:Delivery"]],
};

// The command types that may write records of `recordTopic`.
export function writing(recordTopic) {
  return new Set(Object.entries(CATALOGUE)
    .filter(([, [, writes]]) => writes.includes(recordTopic)).map(([type]) => type));
}

export const roleOf = (type) => CATALOGUE[type][0];

// "domain.delivery:Delivery.Accepted" -> "domain.delivery:Delivery"
export function recordTopicOf(topic) {
  const cut = topic.lastIndexOf(".");
  return cut < 0 ? topic : topic.slice(0, cut);
}
