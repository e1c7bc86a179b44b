#!/usr/bin/env python3
"""TRANSACTIONQUERY for one order through Trust Payments' official Python SDK.

Used by crates/server/tests/it/psp_trust.rs to prove that the TRUST sandbox answers the
unchanged SDK (`securetrading` 1.0.26, see requirements.txt) as the real Webservices
endpoint does. The SDK is only configured (Config.datacenterurl / datacenterpath point it
at the sandbox), never patched.

Prints one JSON object: {"requestreference": ..., "responses": [...]}, the SDK's Response.
"""

import argparse
import json
import sys

import securetrading


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datacenterurl", required=True,
                        help="scheme://host:port of the Webservices endpoint")
    parser.add_argument("--datacenterpath", default="/json/",
                        help="path of the JSON interface below datacenterurl")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--sitereference", required=True)
    parser.add_argument("--orderreference", required=True)
    args = parser.parse_args(argv)

    config = securetrading.Config()
    config.username = args.username
    config.password = args.password
    config.datacenterurl = args.datacenterurl
    config.datacenterpath = args.datacenterpath
    # A refused connection is not retried for seconds: the sandbox is up or the test fails.
    config.http_max_retries = 0
    api = securetrading.Api(config)

    request = securetrading.Request()
    request.update({
        "requesttypedescriptions": ["TRANSACTIONQUERY"],
        "filter": {
            "sitereference": [{"value": args.sitereference}],
            "orderreference": [{"value": args.orderreference}],
        },
    })
    response = api.process(request)
    print(json.dumps({
        "requestreference": response.get("requestreference"),
        "sentreference": request["requestreference"],
        "responses": response["responses"],
    }, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
