"""OCI images: a safe reader (layouts, docker-archive tars, registries) and a virtual file tree."""
