"""Amazon S3 pre-signed URLs and POST forms that work with server-side encryption.

The names here come from the signing core, which imports only the standard
library, so `import s3presign` stays cheap.
"""

from .core.credentials import Credentials
from .core.errors import PresignError
from .core.presign import PresignedPost, PresignedRequest, Presigner
from .core.sse import SSE, SSE_TABLE

__all__ = [
    "Credentials",
    "PresignError",
    "PresignedPost",
    "PresignedRequest",
    "Presigner",
    "SSE",
    "SSE_TABLE",
]
__version__ = "0.1.0"
