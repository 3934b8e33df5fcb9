"""trustlab."""
__version__ = "0.1.0"
"""The version of trustlab, a PEP 440 string (``major.minor.patch``)."""

from trustlab._errors import (  # noqa: E402 - after __version__ and its docstring
    ConfigError,
    DataError,
    DataNotInstalledError,
    LearnerError,
    ModelFileError,
    TrustlabError,
)
from trustlab._parallel import parallel_map  # noqa: E402

__all__ = [
    "ConfigError",
    "DataError",
    "DataNotInstalledError",
    "LearnerError",
    "ModelFileError",
    "TrustlabError",
    "__version__",
    "parallel_map",
]
