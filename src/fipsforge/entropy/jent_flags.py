"""libjitterentropy's collector flags and the defaults OpenSSL uses, apart from the collector so the CLI can show them cheaply."""

JENT_FORCE_FIPS = 1 << 5
DEFAULT_OSR = 3  # what OpenSSL's jitter seed source gets: osr 0 is raised to JENT_MIN_OSR = 3
DEFAULT_FLAGS = JENT_FORCE_FIPS  # as OpenSSL's seed_src_jitter.c allocates its collector
FLAG_NAMES = {
    "disable-memory-access": 1 << 2,
    "force-internal-timer": 1 << 3,
    "disable-internal-timer": 1 << 4,
    "force-fips": 1 << 5,
}
