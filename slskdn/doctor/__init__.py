"""Collection Doctor: what is wrong with the library, as issues with a lifecycle."""
