"""edXML (QCVN 102:2016/BTTTT): the message model, a liberal parser and a strict
writer (docs/edxml.md, "Format"). Pure format: nothing here touches the ledger."""
