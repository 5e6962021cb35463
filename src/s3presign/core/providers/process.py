"""credential_process: run the command, read its JSON (Version 1) from stdout."""

from __future__ import annotations

import json
import shlex
import subprocess

from ..credentials import Credentials
from ..errors import PresignError
from ._http import parse_time


def run(command: str, profile_name: str, timeout: float = 60.0) -> Credentials:
    source = f"credential_process of profile {profile_name!r}"
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise PresignError(f"{source}: cannot parse the command ({exc}); fix its quoting") from None
    if not argv:
        raise PresignError(f"{source} is empty; set it to a command that prints credentials JSON")
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise PresignError(f"{source}: command {argv[0]!r} not found; fix the path") from None
    except subprocess.TimeoutExpired:
        raise PresignError(f"{source}: {argv[0]} did not answer within {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise PresignError(f"{source}: {argv[0]} exited with status {done.returncode}: {tail[0]}")
    try:
        data = json.loads(done.stdout)
    except ValueError:
        raise PresignError(f"{source}: {argv[0]} did not print JSON") from None
    if not isinstance(data, dict) or data.get("Version") != 1:
        raise PresignError(f"{source}: the JSON needs \"Version\": 1 (the AWS CLI's credential_process format)")
    access, secret = data.get("AccessKeyId"), data.get("SecretAccessKey")
    if not access or not secret:
        raise PresignError(f"{source}: the JSON has no AccessKeyId/SecretAccessKey")
    expiration = parse_time(data["Expiration"]) if data.get("Expiration") else None
    return Credentials(access, secret, data.get("SessionToken") or None, expiration=expiration, source=source)
