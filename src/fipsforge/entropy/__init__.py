"""`fipsforge entropy`: record CPU-jitter noise and assess it per NIST SP 800-90B."""
