"""trustlab."""
__version__ = "0.1.0"

from trustlab._errors import (
    ConfigError,
    DataError,
    DataNotInstalledError,
    LearnerError,
    ModelFileError,
    TrustlabError,
)

__all__ = [
    "ConfigError",
    "DataError",
    "DataNotInstalledError",
    "LearnerError",
    "ModelFileError",
    "TrustlabError",
    "__version__",
]
