"""HTTP wire layer: request authentication (SigV4) and protocol plumbing."""

__all__: list[str] = []
