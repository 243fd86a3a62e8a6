"""Shared plumbing every service stands on: settings, databases, events, gRPC, telemetry.

No business rule lives here (STYLE.md): if two services need the same business fact, one owns it
and the other subscribes to its events.
"""
