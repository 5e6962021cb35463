"""Suite-wide settings.

- The credential chain never reaches a real instance metadata service: without
  this, a test that runs the chain with no credentials would send requests to
  169.254.169.254 (EC2's metadata address), which is not loopback.
- Under CI (``CI`` set, as `.ci/run` runs), a test skipped because a Debian
  service it needs is missing (PostgreSQL, Ceph RGW, HAProxy, Chromium, npm)
  fails instead: CI installs them, so a skip there would hide a broken install.
"""

import os

import pytest

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
              "AWS_WEB_IDENTITY_TOKEN_FILE"):
    os.environ.pop(_name, None)

_MISSING_SERVICE = ("apt-get install", "not installed", "is absent", "needs radosgw")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (os.environ.get("CI") and report.skipped and isinstance(report.longrepr, tuple)):
        return
    reason = str(report.longrepr[2])
    if any(marker in reason for marker in _MISSING_SERVICE):
        report.outcome = "failed"
        report.longrepr = f"CI installs every service the tests need, yet: {reason}"


def pytest_collection_modifyitems(config, items):
    """S3PRESIGN_TARGET=stack (tests/stack.py): tests that look inside an embedded server are
    deselected, since the deployment has no data dir of its own."""
    if os.environ.get("S3PRESIGN_TARGET") != "stack":
        return
    from tests.stack import EMBEDDED_ONLY

    gone = [item for item in items if item.nodeid.startswith(EMBEDDED_ONLY)]
    if gone:
        config.hook.pytest_deselected(items=gone)
        items[:] = [item for item in items if not item.nodeid.startswith(EMBEDDED_ONLY)]
