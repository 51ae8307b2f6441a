"""The HTTP server: one endpoint for every service, chosen by the SigV4 credential scope."""
