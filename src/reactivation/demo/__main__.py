"""`python -m reactivation.demo --out DIR`: write the demo JSONL files only (no warehouse, no runs)."""

from __future__ import annotations

import argparse
from datetime import date

from reactivation.demo.generator import generate


def main() -> None:
    """CLI: write the demo JSONL files and print their line counts."""
    parser = argparse.ArgumentParser(description="Write deterministic YClients-shaped demo data as JSONL.")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--clients", type=int, default=600, help="clients across all companies")
    parser.add_argument("--years", type=float, default=3.0, help="years of history before --as-of")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--companies", type=int, default=3, help="number of companies (101, 102, ...)")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="YYYY-MM-DD, default today")
    args = parser.parse_args()
    data = generate(
        n_clients=args.clients, years=args.years, seed=args.seed, as_of=args.as_of, n_companies=args.companies
    )
    for name, count in data.write_jsonl(args.out).items():
        print(f"{name}: {count}")


if __name__ == "__main__":
    main()
