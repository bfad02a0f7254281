"""QR credentials: the signed Claim 169 QR, its keys, status lists, verification and cards."""
