"""The local library: scanning files into LibraryFile events, and asking what is canonical."""
