"""Every limit a guide library must keep, in one place: the kiosk's import, the server's publish
and validate, and the sync client all refuse by these numbers, so what one side accepts the other
accepts too. docs/security.md lists them for operators.

Each limit sits far above what a real library needs and far below what would hurt a reader: a
hostile file is refused by a sentence, never by a crash, a freeze or gigabytes of memory.
"""

from __future__ import annotations

# --- ids ---------------------------------------------------------------------------------------
# Guide and step ids travel in every event (the server keeps 80 characters of them): a longer id
# would publish and then have every event on it refused.
MAX_ID_LENGTH = 80

# --- one guide file ----------------------------------------------------------------------------
MAX_GUIDE_FILE_BYTES = 1_000_000  # checked with stat before reading, and again while reading
# YAML structure, counted from the parser's event stream before anything is built from it.
# A guide is about six levels deep (guide > steps > step > choices > choice > label).
MAX_YAML_DEPTH = 32
# Values (scalars and collections) once every alias is expanded: bounds billion laughs.
MAX_YAML_NODES = 100_000
# Characters of scalar text once every alias is expanded: twice what the file itself may hold.
MAX_YAML_TEXT = 2 * MAX_GUIDE_FILE_BYTES

# --- images ------------------------------------------------------------------------------------
MAX_IMAGE_BYTES = 20_000_000
MAX_IMAGE_SIDE = 4096  # pixels, width and height: a decoded image is at most 4096 x 4096 (64 MB RGBA)

# --- a whole library (a folder, or a bundle once unpacked) -------------------------------------
MAX_LIBRARY_BYTES = 500_000_000  # guides and images, counted as they are read
MAX_LIBRARY_ENTRIES = 20_000  # files and folders (or bundle entries): 10,000 guides with an image each

# --- what a refusal says -----------------------------------------------------------------------
MAX_SHOWN_CHARS = 60  # of a value quoted in a problem message
MAX_PROBLEMS = 1_000  # problems listed for one library; the rest are counted

# --- _library.yaml (library-level settings) ----------------------------------------------------
MAX_SYNONYM_GROUPS = 2_000  # groups over all languages
MAX_SYNONYM_TERMS = 50  # terms in one group
MAX_SYNONYM_CHARS = 80  # characters of one term
