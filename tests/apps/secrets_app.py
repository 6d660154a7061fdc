"""An application that logs every shape secrets leak in, beside data that must stay visible.

Run it plain with ``--configure`` (it calls ``configure_logging()`` from its arguments) or under
``opentelemetry-instrument`` (the environment sets logging up). It logs through the standard
library only, one record per shape, each secret unique (:data:`SECRETS` maps a shape to the text that
must never appear in any output), and one record of :data:`SENTINELS` (text that must appear). It
flushes whichever pipeline is in place and prints one JSON ``done`` line.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import logging
import sys

AWS_KEY_TAIL = "Q7ZR2KX5MWNB3VYT"
JWT_PAYLOAD = "eyJzdWIiOiJzeW5jLWJvdCIsInNjb3BlIjoiYWRtaW4ifQ"
JWT_SIGNATURE = "c2lnbmF0dXJlLW9mLXRoZS10b2tlbi0xMjM0NTY3"
BASIC = base64.b64encode(b"svc:basic-pass-77").decode()

#: Shape → the secret text logged in it, which must be in no output.
SECRETS: dict[str, str] = {
    "property password": "prop-pw-1001",
    "property X-API-Key": "xapikey-1002",
    "property xApiKey": "xapikey-1003",
    "property private_key": "privkey-1004",
    "property access_key_id": "akid-1005",
    "property passphrase": "phrase-1006",
    "property pwd": "pwd-1007",
    "property auth": "auth-1008",
    "property client_secret": "csecret-1009",
    "nested property Authorization": "nested-auth-1010",
    "dict as the message": "dictmsg-pw-1011",
    "dict as a %s argument": "dictarg-pw-1012",
    "header pairs as an argument": BASIC,
    "dataclass argument": "dataclass-pw-1014",
    "password= in the message": "textpw-1015",
    "token: in the message": "texttoken-1016",
    "password= in an exception message": "excpw-1017",
    "Authorization: Basic in the message": "YWxhZGRpbjpvcGVuc2VzYW1l",
    "AWS access key id": AWS_KEY_TAIL,
    "AWS secret access key": "wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY42",
    "bare JWT payload": JWT_PAYLOAD,
    "bare JWT signature": JWT_SIGNATURE,
    "URL api_key": "qs-apikey-1023",
    "URL sig": "qs-sig-1024",
    "URL access_token": "qs-token-1025",
    "PEM private key body": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    "card number": "4111 1111 1111 1111",
    "card number, no spaces": "4111111111111111",
    "URL password with an @": "hunter2@prod",
    "Bearer token": "bearer-tok-1030",
}

#: Text that must appear in every output.
SENTINELS = (
    "65a4f3b2c1d2e3f4a5b6c7d8",  # an ObjectId
    "01HGW2N7EZQ9WJ4XPRMV8Z3K6B",  # an Inngest run id (ULID)
    "2026-12-03T14:00:00.123Z",
    "incremental",
    "contacts",
    "1733212345678",  # epoch milliseconds
    "+1 415 555 0100",
    "1234567.89",
)

log = logging.getLogger("app.secrets")


@dataclasses.dataclass
class SyncConfig:
    """A dataclass with a secret field."""

    user: str
    password: str


def log_every_shape() -> None:
    """One record per shape, then the sentinels."""
    s = SECRETS
    log.info(
        "properties",
        extra={
            "password": s["property password"],
            "X-API-Key": s["property X-API-Key"],
            "xApiKey": s["property xApiKey"],
            "private_key": s["property private_key"],
            "access_key_id": s["property access_key_id"],
            "passphrase": s["property passphrase"],
            "pwd": s["property pwd"],
            "auth": s["property auth"],
            "client_secret": s["property client_secret"],
        },
    )
    log.info("nested", extra={"request": {"headers": {"Authorization": s["nested property Authorization"]}}})
    log.info({"password": s["dict as the message"], "entity": "contacts"})
    log.info("request %s", {"password": s["dict as a %s argument"]})
    log.info("headers %s", [("Authorization", f"Basic {BASIC}"), ("Accept", "application/json")])
    log.info("config %s", SyncConfig(user="svc", password=s["dataclass argument"]))
    log.info("login password=%s refused", s["password= in the message"])
    log.info("token: %s, expired", s["token: in the message"])
    try:
        raise ValueError(f"cannot log in: password={s['password= in an exception message']}")
    except ValueError:
        log.exception("login failed")
    log.info("sent Authorization: Basic %s", s["Authorization: Basic in the message"])
    log.info("aws key AKIA%s", AWS_KEY_TAIL)
    log.info("aws_secret_access_key=%s", s["AWS secret access key"])
    log.info("jwt eyJhbGciOiJIUzI1NiJ9.%s.%s", JWT_PAYLOAD, JWT_SIGNATURE)
    log.info(
        "GET https://api.example.com/v1/contacts?api_key=%s&sig=%s&access_token=%s&page=2",
        s["URL api_key"],
        s["URL sig"],
        s["URL access_token"],
    )
    log.info("key -----BEGIN PRIVATE KEY-----\n%s\nrest\n-----END PRIVATE KEY-----", s["PEM private key body"])
    log.info("paid with %s and %s", s["card number"], s["card number, no spaces"])
    log.info("connecting to mongodb://svc:%s@db.example.com/revops", s["URL password with an @"])
    log.info("calling with Bearer %s", s["Bearer token"])
    log.info(
        "synced %s entity %s mode %s at %s (ts %s, phone %s, amount %s, run %s)",
        SENTINELS[0], SENTINELS[4], SENTINELS[3], SENTINELS[2], SENTINELS[5], SENTINELS[6], SENTINELS[7], SENTINELS[1],
        extra={"jobId": SENTINELS[0], "inngestRunId": SENTINELS[1], "syncMode": SENTINELS[3], "entity": SENTINELS[4]},
    )  # fmt: skip


def main() -> int:
    """Set up (or not), log inside an execution, flush, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configure", help="JSON keyword arguments for configure_logging()")
    parser.add_argument("--execution", required=True)
    args = parser.parse_args()
    import otel_revops

    if args.configure:
        otel_revops.configure_logging(**json.loads(args.configure))
    logging.getLogger().setLevel(logging.INFO)
    with otel_revops.execution_context(job_id="job-secrets", execution_id=args.execution):
        log_every_shape()
    flushed = otel_revops.force_flush(20_000)
    from opentelemetry._logs import get_logger_provider

    provider_flush = getattr(get_logger_provider(), "force_flush", None)
    if provider_flush is not None:
        provider_flush()
    print(json.dumps({"event": "done", "flushed": flushed}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
