"""Odoo: its JSON-2 API (and the legacy JSON-RPC) as a connector (docs/adr/0058)."""
