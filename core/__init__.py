"""What every other HELIOS package may use: strict JSON, redaction (no Django models yet)."""
