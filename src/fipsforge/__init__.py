"""fipsforge: kernel-independent FIPS 140-3 container images, end to end."""

__version__ = "0.1.0"
