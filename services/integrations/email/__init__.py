"""Email through the tenant's connections: SMTP out, IMAP capture in (docs/adr/0047)."""
