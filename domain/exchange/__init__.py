"""The document exchange: agencies, auditors, documents, deliveries, registers,
and the commands that change them."""
