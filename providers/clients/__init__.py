"""Provider clients: everything that builds provider payloads or talks to a cloud SDK."""
