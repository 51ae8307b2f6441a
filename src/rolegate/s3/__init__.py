"""The S3-compatible data plane: buckets and objects, authorized by the policy engine."""
