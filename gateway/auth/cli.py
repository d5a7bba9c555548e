"""`aupgate dkim keygen DOMAIN SELECTOR [--out DIR] [--algorithm rsa|ed25519] [--bits N]`.

Writes the private key (mode 0600) and prints the DNS TXT record to publish and the
lines to add to gateway.toml. The lead's CLI calls `register(subparsers)`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.auth.signing import generate_key, txt_value, write_key, zone_record


def register(subparsers) -> None:
    dkim = subparsers.add_parser("dkim", help="DKIM keys for outbound signing")
    sub = dkim.add_subparsers(dest="dkim_command", required=True)
    keygen = sub.add_parser("keygen", help="write a new DKIM key and print its DNS record")
    keygen.add_argument("domain")
    keygen.add_argument("selector")
    keygen.add_argument("--out", default="keys", help="folder for the private key (keys/)")
    keygen.add_argument("--algorithm", choices=("rsa", "ed25519"), default="rsa")
    keygen.add_argument("--bits", type=int, default=2048, choices=(1024, 2048, 3072, 4096))
    keygen.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    domain = args.domain.lower().rstrip(".")
    selector = args.selector
    if not domain or "." not in domain or not selector.replace("-", "").replace(".", "").isalnum():
        print(f"aupgate dkim keygen: bad domain or selector: {args.domain!r} {selector!r}",
              file=sys.stderr)
        return 2
    private, public = generate_key(args.algorithm, args.bits)
    path = write_key(Path(args.out), domain, selector, private)
    algorithm = "ed25519-sha256" if args.algorithm == "ed25519" else "rsa-sha256"
    print(f"; private key written to {path} (keep it secret, mode 0600)")
    print("; publish this record in the DNS:")
    print(zone_record(domain, selector, txt_value(args.algorithm, public)))
    print("; and add to config/gateway.toml under [checks.auth]:")
    print("; [[checks.auth.signing_keys]]")
    print(f'; domain = "{domain}"\n; selector = "{selector}"\n; algorithm = "{algorithm}"')
    print(f'; key_file = "{path.resolve()}"')
    return 0

