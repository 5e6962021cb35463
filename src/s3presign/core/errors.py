"""The one exception the signing core raises for input it refuses."""


class PresignError(ValueError):
    """A request that cannot be signed as asked.

    The message names the rule that was broken and how to fix it, e.g.
    "SSE-KMS requires Signature Version 4; use signature_version='v4'".
    """
