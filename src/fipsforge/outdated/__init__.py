"""`fipsforge outdated`: which images are behind Debian's archive, which CVEs the update fixes, since when.

Data flows image → package list (SBOM referrer or dpkg status) → candidates (one index pass) → newer
`.deb` changelogs (cached by SHA-256) → per-CVE clocks → report. `OutdatedResult` is the JSON contract
that `fipsforge evidence --outdated` and `fipsforge build --if-outdated` read.
"""
