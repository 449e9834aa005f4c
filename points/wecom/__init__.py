"""WeCom (企业微信) protocol layer: callback crypto, message mapping, API client.

No database and no web imports here: routes, intake and jobs wire these in.

- :mod:`points.wecom.crypto` — verify/decrypt callbacks (``CallbackCrypto``).
- :mod:`points.wecom.xmlmsg` — defusedxml parsing of message XML into dicts.
- :mod:`points.wecom.mapping` — messages and pulled data → normalized ``EventIn``.
- :mod:`points.wecom.client` — async API client with a shared token store.
- :mod:`points.wecom.pull` — pull connectors built on the client and the mapping.
- :mod:`points.wecom.samples` / :mod:`points.wecom.fake_server` — test and demo data.
"""

from points.wecom.client import (
    InMemoryTokenStore,
    OAuthUser,
    RedisTokenStore,
    TokenStore,
    WeComClient,
    WeComError,
    WeComUnavailable,
)
from points.wecom.crypto import CallbackCrypto, CallbackRejected, SealedCallback
from points.wecom.mapping import (
    DEFAULT_APPROVAL_POLICY,
    ApprovalPolicy,
    CallbackOutcome,
    ContactChange,
    DetailRequest,
    OnTimeRule,
    map_callback,
)

__all__ = [
    "DEFAULT_APPROVAL_POLICY",
    "ApprovalPolicy",
    "CallbackCrypto",
    "CallbackOutcome",
    "CallbackRejected",
    "ContactChange",
    "DetailRequest",
    "InMemoryTokenStore",
    "OAuthUser",
    "OnTimeRule",
    "RedisTokenStore",
    "SealedCallback",
    "TokenStore",
    "WeComClient",
    "WeComError",
    "WeComUnavailable",
    "map_callback",
]
