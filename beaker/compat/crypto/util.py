"""Beaker's ``beaker.crypto.util``: the hash and HMAC names Beaker's code imported."""

import hmac
from hashlib import md5, sha1

#: The digest Beaker's HMAC-SHA1 signatures use (``hmac.new(key, msg, hmac_sha1)``).
hmac_sha1 = sha1

__all__ = ["hmac", "hmac_sha1", "md5", "sha1"]
