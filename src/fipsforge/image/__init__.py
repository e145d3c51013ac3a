"""Reproducible, daemonless OCI images from Debian packages, with the FIPS stack and SBOMs."""
