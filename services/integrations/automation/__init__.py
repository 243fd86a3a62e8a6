"""Automation rules (issue #7 point 6; docs/adr/0061, 0062)."""
