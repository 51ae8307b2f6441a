"""rolegate: a self-hostable, AWS-compatible IAM + STS service with an enforcing policy engine."""

__all__ = ["__version__"]

__version__ = "0.1.0"
