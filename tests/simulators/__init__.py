"""Local simulators of outside systems the integrations service talks to (issue #7): real HTTP
servers on free ports that reproduce each vendor's documented protocol, plus knobs a test turns to
make them misbehave the way the real ones do (rate limits, outages)."""
