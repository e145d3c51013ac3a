"""Supply-chain attestations: SLSA provenance at build time, cosign signatures and attestations at push."""
