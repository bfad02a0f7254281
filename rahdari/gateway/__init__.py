"""Service gateway: the QR opens public services with the citizen's consent."""
