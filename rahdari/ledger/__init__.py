"""The public transparency ledger: a verifiable Merkle log (RFC 9162) of every fund movement."""
