"""SDK delivery: payloads and fan-out to connected streams."""
