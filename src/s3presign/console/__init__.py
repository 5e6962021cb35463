"""The web console and the signing service for browser apps (`serve --console-address`).

Imported only by `s3presign serve` when the console is asked for: nothing here is
loaded by `import s3presign`.
"""

from __future__ import annotations

from typing import Any


def start(endpoint_url: str, region: str, *, host: str, port: int, ca_file: str | None = None,
          users: dict[str, Any] | None = None, policy_file: Any = None) -> Any:
    """Start the console in a thread; returns a RunningConsole (``.url``, ``.stop()``)."""
    from s3presign.console.app import ConsoleConfig
    from s3presign.console.server import start_console
    from s3presign.console.service import load_policy

    from s3presign.core.errors import PresignError

    policy = load_policy(policy_file) if policy_file else None
    users = users or {}
    sign_as = policy.sign_as if policy else None
    if sign_as is not None and sign_as not in users:
        raise PresignError(f"--console-policy: sign_as {sign_as!r} is not a user of this server")
    credentials = users.get(sign_as) if sign_as else next(iter(users.values()), None)
    config = ConsoleConfig(endpoint_url=endpoint_url, region=region, ca_file=ca_file,
                           credentials=credentials, policy=policy)
    return start_console(config, host, port)
