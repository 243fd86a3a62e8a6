"""Partner webhooks: subscriptions, signed deliveries with retries, replay (docs/adr/0040, 0041)."""
