"""`fipsforge evidence`: FedRAMP Rev 5 evidence from a deployment's manifests and verify results."""
