#!/usr/bin/env python3
"""A small merchant platform (MP) for Overture: the two endpoints a merchant must build.

* ``POST /verify-user`` answers Overture's user verification: ``{"allowed": true}``, or
  ``{"allowed": false, "reason": …}`` for a user on the deny list. It takes both calls:
  the one before a payment (the user's own ``Authorization``), and the server-to-server one
  at a held payout's approval (``"context": "approval"``, signed like a webhook), whose
  signature it checks first.
* ``POST /webhook`` checks each webhook's Standard Webhooks signature with the
  ``standardwebhooks`` package, and records each event once: a delivery whose ``webhook-id``
  was already processed is answered 200 and changes nothing.

``GET /received`` shows what it got (JSON): ``webhooks`` (each event once, in arrival order,
with its ``deliveryCount``), ``deliveries`` (every webhook delivery and the answer given),
``verifyUser`` (every verify-user call and the decision) and ``refused`` (requests refused for
a bad signature or a missing authorization). ``--state FILE`` keeps it across restarts.

Standard library only, plus ``standardwebhooks`` (pinned in tests/python/requirements.txt).
The company's webhook secret comes from the environment, never the command line::

    MERCHANT_WEBHOOK_SECRET=whsec_… python3 examples/merchant/merchant.py --listen 127.0.0.1:8070

Prints ``{"listening": "http://host:port"}`` on stdout once it accepts connections.
"""

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

SECRET_ENV = "MERCHANT_WEBHOOK_SECRET"
AUTHORIZATION_ENV = "MERCHANT_WEBHOOK_AUTHORIZATION"
MAX_BODY = 64 * 1024


class Ledger:
    """What the merchant received, guarded by one lock; saved to ``path`` after each change."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.path = path
        self.data = {"webhooks": [], "deliveries": [], "verifyUser": [], "refused": []}
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                self.data = json.load(f)

    def save(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.data, f, indent=1)
        os.replace(tmp, self.path)

    def seen(self, webhook_id):
        """The recorded event with this id, or None."""
        return next((w for w in self.data["webhooks"] if w["webhookId"] == webhook_id), None)


def now_ms():
    return int(time.time() * 1000)


class Merchant(BaseHTTPRequestHandler):
    server_version = "example-merchant/1"

    # --- plumbing -------------------------------------------------------------------------

    def log_message(self, fmt, *args):
        sys.stderr.write("merchant: " + (fmt % args) + "\n")

    def answer(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length).decode("utf-8")

    def refuse(self, status, why):
        """Records and answers a refused request (bad signature, missing authorization)."""
        with self.server.ledger.lock:
            self.server.ledger.data["refused"].append(
                {"path": self.path, "status": status, "reason": why, "at": now_ms()}
            )
            self.server.ledger.save()
        self.answer(status, {"error": why})

    def authorization_ok(self):
        """The company's webhook ``Authorization`` value, when one is configured, must match."""
        expected = self.server.authorization
        return expected is None or self.headers.get("Authorization") == expected

    def verify_signature(self, body):
        """The parsed JSON body when the Standard Webhooks signature is valid (and the
        timestamp within five minutes); raises ``WebhookVerificationError`` otherwise."""
        headers = {k: v for k, v in self.headers.items()}
        return self.server.webhook.verify(body, headers)

    # --- routes ---------------------------------------------------------------------------

    def do_GET(self):
        if self.path == "/received":
            with self.server.ledger.lock:
                self.answer(200, self.server.ledger.data)
        elif self.path == "/healthz":
            self.answer(200, {"ok": True})
        else:
            self.answer(404, {"error": "not found"})

    def do_POST(self):
        try:
            body = self.read_body()
        except (ValueError, UnicodeDecodeError) as e:
            self.answer(400, {"error": str(e)})
            return
        if self.path == "/webhook":
            self.webhook(body)
        elif self.path == "/verify-user":
            self.verify_user(body)
        else:
            self.answer(404, {"error": "not found"})

    def webhook(self, body):
        if not self.authorization_ok():
            self.refuse(401, "wrong or missing Authorization")
            return
        try:
            event = self.verify_signature(body)
        except (WebhookVerificationError, ValueError) as e:
            self.refuse(401, f"webhook signature: {e}")
            return
        webhook_id = self.headers["webhook-id"]
        ledger = self.server.ledger
        with ledger.lock:
            known = ledger.seen(webhook_id)
            duplicate = known is not None
            if duplicate:
                known["deliveryCount"] += 1
            else:
                # The event is processed here, once: a real merchant credits or debits the
                # user's balance in the same database transaction as this record.
                known = {
                    "webhookId": webhook_id,
                    "signatureVerified": True,
                    "transactionId": event.get("transaction_id"),
                    "transactionStatus": event.get("transaction_status"),
                    "status": event.get("status"),
                    "type": event.get("type"),
                    "amount": event.get("amount"),
                    "currency": event.get("currency"),
                    "body": event,
                    "deliveryCount": 1,
                    "receivedAt": now_ms(),
                }
                ledger.data["webhooks"].append(known)
            # --answer-500-once: the event is processed, but the first delivery is answered
            # 500, as if the answer had been lost; Overture retries with the same webhook-id.
            status = 500 if (self.server.answer_500_once and not duplicate) else 200
            ledger.data["deliveries"].append(
                {
                    "webhookId": webhook_id,
                    "timestamp": self.headers["webhook-timestamp"],
                    "duplicate": duplicate,
                    "answered": status,
                    "at": now_ms(),
                }
            )
            ledger.save()
        self.answer(status, {"received": True, "duplicate": duplicate})

    def verify_user(self, body):
        signed = "webhook-signature" in self.headers
        if signed:
            # The approval-time call: server to server, signed like a webhook.
            if not self.authorization_ok():
                self.refuse(401, "wrong or missing Authorization")
                return
            try:
                request = self.verify_signature(body)
            except (WebhookVerificationError, ValueError) as e:
                self.refuse(401, f"verify-user signature: {e}")
                return
            if request.get("context") != "approval":
                self.answer(400, {"error": "a signed verify-user call has context approval"})
                return
        else:
            # Before a payment: the user's own authorization (the `x-user-authorization`
            # session value, or `Bearer <user JWT>`), which a real merchant checks against its
            # sessions. Here any non-empty value is accepted.
            if not self.headers.get("Authorization"):
                self.refuse(401, "no user authorization")
                return
            try:
                request = json.loads(body)
            except ValueError:
                self.answer(400, {"error": "body is not JSON"})
                return
        user_id = request.get("userId")
        if not isinstance(user_id, str) or request.get("type") not in ("PAYIN", "PAYOUT"):
            self.answer(400, {"error": "userId (string) and type (PAYIN or PAYOUT) are required"})
            return
        allowed = user_id not in self.server.deny
        answer = {"allowed": allowed}
        if not allowed:
            answer["reason"] = self.server.deny_reason
        with self.server.ledger.lock:
            self.server.ledger.data["verifyUser"].append(
                {
                    "context": "approval" if signed else "payment",
                    # Checked before this point: a bad signature was refused with 401.
                    "signatureVerified": True if signed else None,
                    "authorization": self.headers.get("Authorization"),
                    "userId": user_id,
                    "type": request.get("type"),
                    "amount": request.get("amount"),
                    "currency": request.get("currency"),
                    "transactionId": request.get("transactionId"),
                    "answer": answer,
                    "at": now_ms(),
                }
            )
            self.server.ledger.save()
        self.answer(200, answer)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:8070", help="host:port (port 0: any free)")
    parser.add_argument(
        "--deny", action="append", default=[], metavar="USER_ID",
        help="a user verify-user denies (repeat, or separate with commas)",
    )
    parser.add_argument("--deny-reason", default="self-excluded", help="reason given to denied users")
    parser.add_argument(
        "--answer-500-once", action="store_true",
        help="process each new webhook but answer its first delivery 500 (Overture retries it)",
    )
    parser.add_argument("--state", help="JSON file keeping what was received across restarts")
    args = parser.parse_args()

    secret = os.environ.get(SECRET_ENV)
    if not secret:
        sys.exit(f"set {SECRET_ENV} to the company's webhook secret (whsec_…)")
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), Merchant)
    server.daemon_threads = True
    server.webhook = Webhook(secret)
    server.authorization = os.environ.get(AUTHORIZATION_ENV) or None
    server.deny = {u.strip() for d in args.deny for u in d.split(",") if u.strip()}
    server.deny_reason = args.deny_reason
    server.answer_500_once = args.answer_500_once
    server.ledger = Ledger(args.state)
    bound_host, bound_port = server.server_address[:2]
    print(json.dumps({"listening": f"http://{bound_host}:{bound_port}"}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
