
from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("slskdn")
except _metadata.PackageNotFoundError:  # run from a source tree that is not installed
    __version__ = "0+unknown"
