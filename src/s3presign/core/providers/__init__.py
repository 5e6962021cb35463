"""Credential providers of the AWS CLI's chain, one small module each.

Standard library only, and imported only when the chain reaches them, so
`import s3presign` never pays for http.client, json or XML.
"""
