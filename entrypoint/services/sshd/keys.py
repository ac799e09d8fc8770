"""SSH_AUTHORIZED_KEYS checked line by line, so a typo fails at start, not at login."""

from __future__ import annotations

import base64
import binascii
import struct

KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)


def key_problem(line: str) -> str | None:
    """Why one authorized_keys line is not a public key (None: it is, or it is blank/comment).

    The format: [options] type base64 [comment]; the blob must name the same type.
    """
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    fields = line.split()
    index = next((i for i, f in enumerate(fields) if f in KEY_TYPES), None)
    if index is None:
        return f"no key type in {line[:40]!r}"
    if index + 1 >= len(fields):
        return f"{fields[index]} key without its base64 data"
    try:
        blob = base64.b64decode(fields[index + 1], validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        named = blob[4 : 4 + length].decode()
    except (binascii.Error, struct.error, UnicodeDecodeError):
        return f"{fields[index]} key whose data is not base64 of a public key"
    if named != fields[index]:
        return f"the key data is a {named!r} key, the line says {fields[index]!r}"
    return None
