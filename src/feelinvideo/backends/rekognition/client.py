"""The Rekognition service client: boto3 set-up, botocore's retries, one-line errors.

boto3 is the optional extra ``pip install 'feelinvideo[aws]'``; it is imported when a
:class:`RekognitionService` is made, never when this package is imported. AWS configuration
is the standard one: region and profile arguments, else ``AWS_DEFAULT_REGION`` /
``AWS_PROFILE`` / ``AWS_ACCESS_KEY_ID`` ..., ``~/.aws/config`` and ``~/.aws/credentials``,
and ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_REKOGNITION`` (honoured by boto3 >= 1.28.57).

Retries are botocore's own ("standard" mode, or "adaptive" where configured): throttling
(``ThrottlingException``, ``ProvisionedThroughputExceededException``...), transient
server errors (HTTP 500/502/503/504) and connection errors are retried with exponential
backoff and full jitter, up to :data:`DEFAULT_MAX_ATTEMPTS` tries in all unless
``max_attempts`` (or ``AWS_MAX_ATTEMPTS`` / the profile's ``max_attempts``) says otherwise.
Source: botocore's retry guide,
https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html, and
``botocore.retries.standard``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from ...errors import BackendError, MissingDependencyError

#: How to install the optional dependency, quoted in the missing-boto3 error.
INSTALL_HINT = "pip install 'feelinvideo[aws]'"

#: Concurrent requests (threads, and HTTP connections in the pool) by default.
DEFAULT_WORKERS = 8
#: Tries in all per request (first one included) for throttling and transient errors.
DEFAULT_MAX_ATTEMPTS = 8
#: botocore retry modes this client accepts.
RETRY_MODES = ("standard", "adaptive")

#: Error codes that mean "slow down"; botocore retries them, and the last one is reported as
#: "still throttled after N tries".
THROTTLING_CODES = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException"})

_CRED_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "MissingAuthenticationTokenException",
    }
)

NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, "
    "or run `aws configure`"
)


class RekognitionError(BackendError):
    """A Rekognition request or set-up failed, in one line.

    Attributes:
        code: the service's error code (``"ThrottlingException"``...), "" when none.
        attempts: tries made for the request (1 when it was not retried).
    """

    def __init__(self, message: str, code: str = "", attempts: int = 1):
        super().__init__(message)
        self.code = code
        self.attempts = attempts


def load_boto3():
    """Import boto3 and botocore; return ``(boto3, botocore.config, botocore.exceptions)``.

    Raises:
        MissingDependencyError: boto3 is not installed (the message says how to install it).
    """
    try:
        import boto3
        import botocore.config
        import botocore.exceptions
    except ImportError:
        raise MissingDependencyError(
            f"the rekognition backend needs boto3, which is not installed: {INSTALL_HINT}"
        ) from None
    return boto3, botocore.config, botocore.exceptions


class RekognitionService:
    """A boto3 Rekognition client with botocore's retries and feelinvideo's one-line errors.

    Region, profile and credentials are resolved here, so a missing one fails before any
    frame is decoded; the boto3 client itself is made on the first request. Thread-safe:
    :meth:`call` and :meth:`list_all` may run from many threads (boto3 clients are).

    Args:
        region: AWS region (default: ``AWS_DEFAULT_REGION`` or the profile's).
        profile: named profile from ``~/.aws`` (default: ``AWS_PROFILE`` or the default chain).
        endpoint_url: service URL (default: ``AWS_ENDPOINT_URL(_REKOGNITION)`` or AWS's).
        max_attempts: tries in all per request (>= 1; 1 = no retry). Default: the
            configured ``max_attempts`` (``AWS_MAX_ATTEMPTS`` or the profile), else
            :data:`DEFAULT_MAX_ATTEMPTS`.
        retry_mode: ``"standard"`` or ``"adaptive"`` (adds client-side rate limiting).
            Default: ``"adaptive"`` when so configured (``AWS_RETRY_MODE`` or the profile),
            else ``"standard"``.
        max_connections: HTTP connection pool size (set it to the number of threads).
        connect_timeout_s, read_timeout_s: socket timeouts per try, in seconds.

    Raises:
        MissingDependencyError: boto3 is not installed.
        RekognitionError: unknown profile, no region, or no credentials (one line).
    """

    def __init__(
        self,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        max_attempts: int | None = None,
        retry_mode: str | None = None,
        max_connections: int = DEFAULT_WORKERS,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
    ):
        boto3, config, exceptions = load_boto3()
        self._exc = exceptions
        try:
            session = boto3.session.Session(profile_name=profile, region_name=region)
        except exceptions.ProfileNotFound:
            raise RekognitionError(
                f"AWS profile {profile!r} not found in ~/.aws/config or ~/.aws/credentials"
            ) from None
        if not session.region_name:
            raise RekognitionError(
                "no AWS region set: pass --region or set AWS_DEFAULT_REGION "
                "(or a region in the AWS profile)"
            )
        try:
            credentials = session.get_credentials()
        except exceptions.BotoCoreError as exc:
            raise RekognitionError(f"AWS credentials could not be loaded: {exc}") from None
        if credentials is None:
            raise RekognitionError(NO_CREDENTIALS)
        if retry_mode is not None and retry_mode not in RETRY_MODES:
            raise ValueError(f"retry_mode must be one of {RETRY_MODES}, got {retry_mode!r}")
        configured = _config_variable(session, "retry_mode")
        self.retry_mode = retry_mode or ("adaptive" if configured == "adaptive" else "standard")
        if max_attempts is None:
            max_attempts = _config_variable(session, "max_attempts") or DEFAULT_MAX_ATTEMPTS
        self.max_attempts = max(1, int(max_attempts))
        self.region: str = session.region_name
        self._session = session
        self._endpoint_url = endpoint_url
        self._config = config.Config(
            retries={"mode": self.retry_mode, "total_max_attempts": self.max_attempts},
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            max_pool_connections=max(1, int(max_connections)),
            user_agent_extra="feelinvideo",
        )
        self._client = None
        self._lock = threading.Lock()

    @property
    def client(self):
        """The boto3 ``rekognition`` client, made on first use.

        Raises:
            RekognitionError: botocore cannot make it (e.g. an invalid endpoint URL).
        """
        with self._lock:
            if self._client is None:
                try:
                    self._client = self._session.client(
                        "rekognition", endpoint_url=self._endpoint_url, config=self._config
                    )
                except self._exc.BotoCoreError as exc:
                    raise RekognitionError(
                        f"cannot create the AWS Rekognition client: {exc}"
                    ) from None
            return self._client

    def close(self) -> None:
        """Close the client's HTTP connections, if it was made; a later request makes a new one."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None and hasattr(client, "close"):  # botocore >= 1.20
            client.close()

    @property
    def endpoint(self) -> str:
        """The service URL requests go to."""
        return self.client.meta.endpoint_url

    def call(self, operation: str, **params) -> dict:
        """Call one Rekognition operation, e.g. ``call("DetectFaces", Image=..., ...)``.

        Args:
            operation: the API name, as in the API reference (``"DetectFaces"``).
            params: the request's parameters, as in the API reference.

        Returns:
            the parsed response (a dict, ``ResponseMetadata`` included).

        Raises:
            RekognitionError: the request failed, after botocore's retries for throttling
                and transient errors (one line; ``code`` is the service's error code).
        """
        method = getattr(self.client, _snake(operation))
        with self._errors(operation, params):
            return method(**params)

    def list_all(
        self, operation: str, key: str, page_size: int | None = None, **params
    ) -> list[dict]:
        """Every item of a paginated operation, through botocore's paginator.

        E.g. ``list_all("ListFaces", "Faces", CollectionId="class")`` follows ``NextToken``
        to the last page and returns all ``Face`` dicts in the service's order.

        Args:
            operation: the API name (``"ListFaces"``).
            key: the response list to collect (``"Faces"``).
            page_size: items per request (the operation's ``MaxResults``), or the default.
            params: the request's other parameters.

        Raises:
            RekognitionError: a page request failed (one line).
        """
        paginator = self.client.get_paginator(_snake(operation))
        if page_size:
            params["PaginationConfig"] = {"PageSize": int(page_size)}
        items: list[dict] = []
        with self._errors(operation, params):
            for page in paginator.paginate(**params):
                items.extend(page.get(key) or [])
        return items

    @contextmanager
    def _errors(self, operation: str, params: Mapping) -> Iterator[None]:
        """Turn botocore's exceptions raised inside into one-line :class:`RekognitionError`."""
        ex = self._exc
        try:
            yield
        except ex.ClientError as exc:
            error = exc.response.get("Error", {})
            retries = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            attempts = int(retries or 0) + 1
            raise RekognitionError(
                self._message(exc, operation, params, attempts), error.get("Code", ""), attempts
            ) from None
        except ex.BotoCoreError as exc:
            raise RekognitionError(self._message(exc, operation, params, 1)) from None

    def _message(self, exc, operation: str, params: Mapping, attempts: int) -> str:
        ex = self._exc
        where = f"AWS Rekognition {operation}"
        if isinstance(exc, ex.ClientError):
            error = exc.response.get("Error", {})
            code = error.get("Code", "") or "error"
            message = " ".join(str(error.get("Message", "")).split()) or "no message"
            collection = params.get("CollectionId")
            if code == "AccessDeniedException":
                return (
                    f"{where}: access denied ({message}); the credentials need the "
                    f"rekognition:{operation} permission"
                )
            if code == "ResourceNotFoundException" and collection:
                return (
                    f"Rekognition collection {collection!r} not found in region {self.region}: "
                    f"expected an existing collection (create it with `feelinvideo enroll DIR "
                    f"--backend rekognition --collection {collection}`)"
                )
            if code in ("InvalidImageFormatException", "ImageTooLargeException"):
                return f"{where}: invalid image ({code}: {message})"
            if code in THROTTLING_CODES:
                return (
                    f"{where}: still throttled after {attempts} tries ({code}); sample fewer "
                    f"frames (--every) or ask AWS for a higher TPS quota"
                )
            if code in _CRED_CODES:
                return (
                    f"{where}: AWS rejected the credentials ({code}: {message}); check "
                    f"AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or --profile"
                )
            tries = f" after {attempts} tries" if attempts > 1 else ""
            return f"{where} failed{tries}: {code}: {message}"
        if isinstance(exc, (ex.NoCredentialsError, ex.PartialCredentialsError)):
            return NO_CREDENTIALS
        if isinstance(exc, ex.EndpointConnectionError):
            return (
                f"{where}: cannot reach {self.endpoint}: network unreachable "
                f"(check the connection, --region and AWS_ENDPOINT_URL)"
            )
        if isinstance(exc, (ex.ConnectTimeoutError, ex.ReadTimeoutError)):
            return f"{where}: {self.endpoint} timed out ({exc})"
        if isinstance(exc, ex.ConnectionError):
            return f"{where}: connection to {self.endpoint} failed ({exc})"
        return f"{where} failed: {exc}"


def _config_variable(session, name: str):
    """A botocore configuration variable (env var, profile, default) or None."""
    core = getattr(session, "_session", None)  # boto3.Session wraps a botocore session
    try:
        return core.get_config_variable(name) if core is not None else None
    except Exception:  # noqa: BLE001 - a malformed setting is left to botocore to report
        return None


def _snake(operation: str) -> str:
    """``"DetectFaces"`` -> ``"detect_faces"`` (boto3's method names)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


T = TypeVar("T")
R = TypeVar("R")


def map_ordered(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """``[fn(x) for x in items]`` on at most ``workers`` threads, results in input order.

    Uses :meth:`concurrent.futures.ThreadPoolExecutor.map` (which keeps order). The first
    exception in input order is raised; requests not yet started are cancelled.
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    pool = ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="rek")
    try:
        return list(pool.map(fn, items))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
