//! Nothing here: the corpus is in `tests/` (see the package description).
