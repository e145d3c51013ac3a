"""`fipsforge verify`: static FIPS-boundary analysis of any container image."""
