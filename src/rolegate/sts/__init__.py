"""STS: temporary credentials whose session tokens any node validates without a lookup."""
