"""The kernel-independent crypto stack: OpenSSL 3.5 with its FIPS provider, seeded by libjitterentropy."""
