"""Pre-registered claims and the paired statistics that decide them (every track uses it)."""
