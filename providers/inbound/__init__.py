"""What the clouds push back to HELIOS (the round trip): parsing each cloud's delivery format and
authenticating the request, with no Django model involved."""
