"""Suite-wide environment.

- The credential chain never reaches a real instance metadata service: without
  this, a test that runs the chain with no credentials would send requests to
  169.254.169.254 (EC2's metadata address), which is not loopback.
- botocore, the independent peer, signs with its Python signer: with awscrt
  installed it would switch to the CRT signer (another parameter order, its own
  clock), and the byte-for-byte comparisons at a fixed clock would compare
  nothing meaningful.
"""

import os

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["BOTO_DISABLE_CRT"] = "true"
for _name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
              "AWS_WEB_IDENTITY_TOKEN_FILE"):
    os.environ.pop(_name, None)
