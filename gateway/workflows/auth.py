"""Who calls the Embed Workflow API: the project, environment and kind of the key it presents.

The key comes in the `Authorization` header, as `Bearer <key>` (what the vendor's Ruby client
sends) or as `Basic base64(<key>:)`, the key as the user name and the password ignored (what
Stripe-style APIs accept, so `curl -u sk_test_…:` works). A key starts `pk_` or `sk_`, then `test_`
or `live_` (gateway/projects.py); the prefix is checked before the lookup only to say clearly what
is wrong, the lookup by hash decides. No refusal repeats what the caller sent: it may be a secret.

Publishable keys are meant for browsers, so they may only trigger events; every other endpoint
calls `require_secret`.
"""

import base64
import binascii
from dataclasses import dataclass
from typing import Literal

from gateway.errors import Forbidden, Unauthorized
from gateway.projects import Project, ProjectRegistry

__all__ = ["Caller", "caller_of", "require_secret"]

FIELD = "Authorization"

_PREFIXES = ("pk_test_", "sk_test_", "pk_live_", "sk_live_")


@dataclass(frozen=True, slots=True)
class Caller:
    """The project a request acts for, in which environment, and whether with a publishable key."""

    project: Project
    environment: Literal["test", "live"]
    publishable: bool


def caller_of(authorization: str | None, registry: ProjectRegistry) -> Caller:
    """The caller named by an `Authorization` header, or 401 saying what is wrong with it."""
    key = _key_of(authorization or "")
    if not key.startswith(_PREFIXES):
        raise Unauthorized.at(
            FIELD,
            "not an Embed Workflow API key: expected pk_test_, sk_test_, pk_live_ or sk_live_",
        )
    found = registry.by_workflow_key(key)
    if found is None:
        raise Unauthorized.at(FIELD, "unknown API key (never issued, or revoked)")
    project, stored = found
    return Caller(project=project, environment=stored.environment, publishable=stored.publishable)


def require_secret(caller: Caller, what: str) -> None:
    """Refuse (403) a publishable key for anything but triggering events."""
    if caller.publishable:
        raise Forbidden.at(
            FIELD,
            f"{what} needs a secret key (sk_{caller.environment}_…); "
            "publishable keys may only trigger events",
        )


def _key_of(authorization: str) -> str:
    """The key in `Bearer <key>` or `Basic base64(<key>:)`; scheme names in any case."""
    scheme, credentials = [*authorization.split(None, 1), "", ""][:2]
    credentials = credentials.strip()
    if not scheme:
        raise Unauthorized.at(FIELD, "missing: send `Bearer <API key>`")
    match scheme.lower():
        case "bearer":
            key = credentials
        case "basic":
            key = _basic_user(credentials)
        case _:
            raise Unauthorized.at(FIELD, "unsupported scheme: send `Bearer <API key>`")
    if not key:
        raise Unauthorized.at(FIELD, f"no API key after `{scheme}`")
    return key


def _basic_user(credentials: str) -> str:
    """The user name of Basic credentials (the API key); the password, if any, is ignored."""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized.at(
            FIELD, "malformed Basic credentials: expected base64 of `<API key>:`"
        ) from None
    return decoded.partition(":")[0]
