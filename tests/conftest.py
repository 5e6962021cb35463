"""Suite-wide: the credential chain never reaches a real instance metadata service.

Without this, a test that runs the chain with no credentials would send requests
to 169.254.169.254 (EC2's metadata address), which is not loopback.
"""

import os

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
              "AWS_WEB_IDENTITY_TOKEN_FILE"):
    os.environ.pop(_name, None)
