"""IAM Access Analyzer: policy validation and checks."""

__all__: list[str] = []
