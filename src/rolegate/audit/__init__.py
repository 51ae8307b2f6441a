"""The audit trail: every request as a CloudTrail-shaped event (`record`, `capture`), stored
through a crash-safe per-process journal (`recorder`), read by `rolegate audit` (`cli`)."""

__all__: list[str] = []
