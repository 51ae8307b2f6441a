"""Build the cross-account world on a running rolegate, with boto3 calls only.

    rolegate serve --data ./.rolegate-example &
    rolegate account create --alias development --data ./.rolegate-example > dev.json
    rolegate account create --alias production --data ./.rolegate-example > prod.json
    python examples/cross-account/build_world.py dev.json prod.json > world.json

Accounts are not an AWS API, so they come from `rolegate account create`; everything else
(groups Developers/Testers and their policies, users alice and bob with access keys, alice's
virtual MFA device, the UpdateApp and UpdateAppMFA roles in production) is made by
`rolegate.demo.build_world` through boto3's IAM client against the endpoint.
"""

from __future__ import annotations

import argparse
import json
import sys

from rolegate.demo import build_world, profiles_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("development", help="JSON printed by `rolegate account create`")
    parser.add_argument("production", help="JSON printed by `rolegate account create`")
    parser.add_argument("--endpoint", default="http://127.0.0.1:8790")
    args = parser.parse_args()
    with (
        open(args.development, encoding="utf-8") as dev,
        open(args.production, encoding="utf-8") as prod,
    ):
        world = build_world(args.endpoint, json.load(dev), json.load(prod))
    json.dump(world, sys.stdout, indent=2)
    print("\n# ~/.aws/config profiles:\n" + profiles_text(world), file=sys.stderr)


if __name__ == "__main__":
    main()
