"""Placeholder: operations are added here."""

__all__: list[str] = []
