"""`python -m bench --sizes 100k,1m --engines duckdb,postgres --out bench`."""

from bench.run import main

if __name__ == "__main__":
    raise SystemExit(main())
