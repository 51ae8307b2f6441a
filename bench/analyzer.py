"""Access Analyzer: analysis time per policy for 1,000 realistic trust and bucket policies.

The policies follow the shapes seen in real accounts (service and own-account trust,
cross-account roles with an external id, SAML federation, organization-wide access, public
and IP- or VPC-restricted buckets, Deny statements guarding transport and principals), drawn
with a fixed seed. Each is analyzed once (`rolegate.analyzer.external.analyze_policy`, the
fast syntactic paths included), and the times are printed as percentiles, overall and per
path (solver or not).

    python bench/analyzer.py [--count 1000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

from rolegate.analyzer.external import BUCKET_TYPE, ROLE_TYPE, Target, Zone, analyze_policy
from rolegate.policy import Policy, PolicyKind, parse_policy

OWN = "111122223333"


def _account(rng: random.Random) -> str:
    return f"{rng.randrange(10**11, 10**12):012d}"


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust_policy(rng: random.Random) -> str:
    other = _account(rng)
    assume = {"Effect": "Allow", "Action": "sts:AssumeRole"}
    shape = rng.random()
    if shape < 0.30:
        service = rng.choice(["ec2", "lambda", "ecs-tasks", "glue"]) + ".amazonaws.com"
        return _doc({**assume, "Principal": {"Service": service}})
    if shape < 0.50:
        principal = rng.choice([f"arn:aws:iam::{OWN}:root", OWN, f"arn:aws:iam::{OWN}:user/ci"])
        return _doc({**assume, "Principal": {"AWS": principal}})
    if shape < 0.65:
        return _doc({**assume, "Principal": {"AWS": f"arn:aws:iam::{other}:root"}})
    if shape < 0.80:
        condition = {"StringEquals": {"sts:ExternalId": f"ext-{rng.randrange(10**6)}"}}
        if rng.random() < 0.5:
            condition["Bool"] = {"aws:MultiFactorAuthPresent": "true"}
        return _doc({**assume, "Principal": {"AWS": other}, "Condition": condition})
    if shape < 0.90:
        return _doc(
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{OWN}:saml-provider/corp"},
                "Action": "sts:AssumeRoleWithSAML",
                "Condition": {"StringEquals": {"saml:aud": "https://signin.aws.amazon.com/saml"}},
            }
        )
    return _doc(
        {
            **assume,
            "Principal": {"AWS": "*"},
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": f"o-{rng.randrange(10**8)}"}},
        }
    )


def bucket_policy(rng: random.Random, bucket: str) -> str:
    other = _account(rng)
    objects = f"arn:aws:s3:::{bucket}/*"
    read = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": objects}
    secure = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", objects],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    shape = rng.random()
    if shape < 0.20:
        return _doc({**read, "Principal": "*"})
    if shape < 0.40:
        return _doc({**read, "Principal": {"AWS": f"arn:aws:iam::{OWN}:role/app"}}, secure)
    if shape < 0.55:
        return _doc(
            {**read, "Principal": {"AWS": f"arn:aws:iam::{other}:root"}},
            {
                **read,
                "Action": "s3:PutObject",
                "Principal": {"AWS": f"arn:aws:iam::{other}:role/w"},
            },
        )
    if shape < 0.70:
        cidr = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.0.0/16"
        return _doc({**read, "Principal": "*", "Condition": {"IpAddress": {"aws:SourceIp": cidr}}})
    if shape < 0.80:
        vpce = f"vpce-{rng.randrange(16**8):08x}"
        return _doc(
            {**read, "Principal": "*", "Condition": {"StringEquals": {"aws:SourceVpce": vpce}}},
            secure,
        )
    if shape < 0.90:
        return _doc(
            {**read, "Principal": "*"},
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": objects,
                "Condition": {
                    "StringNotEquals": {"aws:PrincipalOrgID": f"o-{rng.randrange(10**8)}"}
                },
            },
        )
    return _doc(
        {**read, "Principal": {"AWS": [f"arn:aws:iam::{other}:root", OWN]}},
        {
            "Effect": "Deny",
            "NotPrincipal": {"AWS": [f"arn:aws:iam::{other}:root", f"arn:aws:iam::{OWN}:root"]},
            "Action": "s3:*",
            "Resource": objects,
        },
    )


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _line(label: str, times: list[float]) -> str:
    if not times:
        return f"{label:<22} n=0"
    return (
        f"{label:<22} n={len(times):<5} p50={_percentile(times, 0.50) * 1000:8.2f} ms  "
        f"p99={_percentile(times, 0.99) * 1000:8.2f} ms  "
        f"mean={statistics.fmean(times) * 1000:8.2f} ms  max={max(times) * 1000:8.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    zone = Zone(OWN)
    cases: list[tuple[Policy, Target]] = []
    for index in range(args.count):
        if index % 2 == 0:
            policy = parse_policy(trust_policy(rng), PolicyKind.TRUST)
            target = Target(f"arn:aws:iam::{OWN}:role/r{index}", ROLE_TYPE, OWN)
        else:
            bucket = f"bucket-{index}"
            policy = parse_policy(bucket_policy(rng, bucket), PolicyKind.RESOURCE)
            target = Target(f"arn:aws:s3:::{bucket}", BUCKET_TYPE, OWN)
        cases.append((policy, target))
    every: list[float] = []
    by_path: dict[str, list[float]] = {"syntactic": [], "solver": []}
    by_type: dict[str, list[float]] = {ROLE_TYPE: [], BUCKET_TYPE: []}
    findings = 0
    for policy, target in cases:
        started = time.perf_counter()
        analysis = analyze_policy(policy, target, zone)
        elapsed = time.perf_counter() - started
        every.append(elapsed)
        by_path["solver" if analysis.used_solver else "syntactic"].append(elapsed)
        by_type[target.resource_type].append(elapsed)
        findings += len(analysis.grants)
    print(f"{args.count} policies, {findings} findings, total {sum(every):.2f} s")
    print(_line("all", every))
    for label, times in {**by_path, **by_type}.items():
        print(_line(label, times))


if __name__ == "__main__":
    main()
