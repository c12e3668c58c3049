"""Migration scripts, one per schema version (a package so that setuptools ships them)."""
