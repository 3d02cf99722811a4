"""The pure domain: data, rules and decisions; no I/O, no frameworks."""
