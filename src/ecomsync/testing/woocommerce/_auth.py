"""
WooCommerce's API-key authentication, as ``WC_REST_Authentication``
(``plugins/woocommerce/includes/class-wc-rest-authentication.php``) does
it: HTTP Basic (or ``consumer_key``/``consumer_secret`` in the query) only
when the request came over TLS (``is_ssl()``), OAuth 1.0a one-legged
otherwise, then the key's read/write permission by method
(``check_permissions``).

And how PHP reads a query string into ``$_GET``: a name given twice keeps
its last value, and dots and spaces in names become underscores.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import quote, unquote_plus

import attrs

from ._errors import WpError


#: ``check_oauth_timestamp_and_nonce``: a 15 minute window.
OAUTH_WINDOW = 15 * 60

_OAUTH_PARAMS = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
_HEADER_PARAM = re.compile(r'(oauth_[a-z_-]*)=(:?"([^"]*)"|([^,]*))')


@attrs.define(repr=False)
class ApiKey:
    """
    A REST API key (WooCommerce → Settings → Advanced → REST API).
    """

    consumer_key: str
    consumer_secret: str
    #: ``read``, ``write`` or ``read_write``.
    permissions: str = "read_write"
    user_id: int = 1
    #: nonce -> timestamp, the nonces seen within the window.
    nonces: dict[str, int] = attrs.field(factory=dict)

    def __repr__(self) -> str:
        return f"<ApiKey {self.consumer_key[:7]}… {self.permissions}>"


def php_query(query: str) -> dict[str, str]:
    """
    ``$_GET`` for *query*: the last of repeated names wins (PHP's
    ``parse_str``), ``.`` and `` `` in names become ``_``.
    """
    found: dict[str, str] = {}
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        key = unquote_plus(name).replace(".", "_").replace(" ", "_")
        if not key:
            continue
        found[key] = unquote_plus(value)
    return found


def rfc3986(value: str) -> str:
    """
    ``wc_rest_urlencode_rfc3986``: PHP's ``rawurlencode``.
    """
    return quote(value, safe="-_.~")


def auth_error(message: str) -> WpError:
    return WpError(401, "woocommerce_rest_authentication_error", message)


def sign(
    method: str,
    url: str,
    params: Mapping[str, str],
    secret: str,
    algorithm: str = "sha256",
) -> str:
    """
    The OAuth 1.0a signature ``check_oauth_signature`` expects: parameters
    sorted by name (``strcmp``), each name and value encoded, then each
    ``name=value`` encoded again, joined by ``%26``; key ``secret&``.
    """
    pairs = sorted((k, v) for k, v in params.items() if k != "oauth_signature")
    query = "%26".join(rfc3986(f"{rfc3986(k)}={rfc3986(v)}") for k, v in pairs)
    base = f"{method.upper()}&{rfc3986(url)}&{query}"
    digest = hmac.new(
        f"{secret}&".encode(), base.encode(), getattr(hashlib, algorithm)
    ).digest()
    return base64.b64encode(digest).decode()


@attrs.define
class Authenticator:
    """
    The keys the shop knows and the checks a request goes through.
    """

    keys: dict[str, ApiKey] = attrs.field(factory=dict)

    def add(self, key: ApiKey) -> None:
        self.keys[key.consumer_key] = key

    def authenticate(
        self,
        *,
        method: str,
        is_ssl: bool,
        url: str,
        query: Mapping[str, str],
        form: Mapping[str, str],
        authorization: str,
        now: int,
    ) -> ApiKey | None:
        """
        The key that authenticates the request, ``None`` for an anonymous
        one; `WpError` (401) for a failed attempt.
        """
        if is_ssl:
            key = self._basic(query, authorization)
            if key is not None:
                return key
        return self._oauth(method, url, query, form, authorization, now)

    def _basic(
        self, query: Mapping[str, str], authorization: str
    ) -> ApiKey | None:
        ck = query.get("consumer_key", "")
        cs = query.get("consumer_secret", "")
        if not (ck and cs):
            ck = cs = ""
            if authorization[:6].lower() == "basic ":
                try:
                    raw = base64.b64decode(authorization[6:].strip()).decode()
                except (ValueError, UnicodeDecodeError):
                    raw = ""
                ck, _, cs = raw.partition(":")
        if not ck or not cs:
            return None
        key = self.keys.get(ck)
        if key is None:
            return None
        if not hmac.compare_digest(key.consumer_secret, cs):
            error = auth_error("Consumer secret is invalid.")
            error.headers["WWW-Authenticate"] = (
                'Basic realm="WooCommerce API. Use a consumer key in the '
                "username field and a consumer secret in the password "
                'field."'
            )
            raise error
        return key

    def _oauth(
        self,
        method: str,
        url: str,
        query: Mapping[str, str],
        form: Mapping[str, str],
        authorization: str,
        now: int,
    ) -> ApiKey | None:
        params = {**query, **form}
        header = authorization.strip()
        if header.startswith("OAuth "):
            for m in _HEADER_PARAM.finditer(header):
                params[m.group(1)] = unquote_plus(m.group(3) or m.group(4))
        missing = [p for p in _OAUTH_PARAMS if not params.get(p)]
        if len(missing) == len(_OAUTH_PARAMS):
            return None
        if missing:
            word = "parameter" if len(missing) == 1 else "parameters"
            raise WpError(
                401,
                "woocommerce_rest_authentication_missing_parameter",
                f"Missing OAuth {word} {', '.join(missing)}",
            )
        key = self.keys.get(params["oauth_consumer_key"])
        if key is None:
            raise auth_error("Consumer key is invalid.")
        given = params["oauth_signature"].replace(" ", "+")
        sig_method = params["oauth_signature_method"]
        if sig_method not in ("HMAC-SHA1", "HMAC-SHA256"):
            raise auth_error(
                "Invalid signature - signature method is invalid."
            )
        expected = sign(
            method,
            url,
            params,
            key.consumer_secret,
            sig_method.removeprefix("HMAC-").lower(),
        )
        if not hmac.compare_digest(expected, given):
            raise auth_error(
                "Invalid signature - provided signature does not match."
            )
        try:
            timestamp = int(params["oauth_timestamp"])
        except ValueError:
            timestamp = 0
        if abs(timestamp - now) > OAUTH_WINDOW:
            raise auth_error("Invalid timestamp.")
        nonce = params["oauth_nonce"]
        key.nonces = {
            n: t for n, t in key.nonces.items() if t >= now - OAUTH_WINDOW
        }
        if nonce in key.nonces:
            raise auth_error("Invalid nonce - nonce has already been used.")
        key.nonces[nonce] = timestamp
        return key


def check_permissions(key: ApiKey, method: str) -> None:
    """
    ``WC_REST_Authentication::check_permissions``.
    """
    if method in ("HEAD", "GET"):
        if key.permissions not in ("read", "read_write"):
            raise auth_error(
                "The API key provided does not have read permissions."
            )
    elif method in ("POST", "PUT", "PATCH", "DELETE"):
        if key.permissions not in ("write", "read_write"):
            raise auth_error(
                "The API key provided does not have write permissions."
            )
    elif method != "OPTIONS":
        raise auth_error("Unknown request method.")
