"""Default bounds on what one image may make the reader do, as plain constants.

They live apart from `oci.tree` so a command's `--help` can show them without loading pydantic.
"""

MAX_TOTAL_BYTES = 32 << 30
MAX_ENTRIES = 2_000_000
