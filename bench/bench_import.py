"""What privacy costs at import: the hub's import vs a plaintext upsert, in one run.

The hub normalises each identifier, looks it up by keyed digest, creates a random id and a
per-customer data key, and encrypts every personal field, one savepoint per row. The baseline
stores the same rows in clear in a plain SQLite table with a unique email index (what a naive
integration does). Both write to SQLite files in the same temporary folder.

    .venv/bin/python bench/bench_import.py [--rows 5000]

Prints one JSON document: rows per second for each, and the ratio hub / baseline time.
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from hub.contacts.importer import import_contacts
from hub.testing import make_installation


def _write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "phone", "first_name", "last_name", "locale", "consent_email"])
        for i in range(rows):
            writer.writerow([f"Person.{i}@Example.com", f"+336{10000000 + i}", f"First{i}",
                             f"Last{i}", "fr-FR", "yes" if i % 3 else "no"])


def _baseline(path: Path, database: Path) -> float:
    started = time.perf_counter()
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(
        "CREATE TABLE contacts (email TEXT PRIMARY KEY, phone TEXT, first_name TEXT, "
        "last_name TEXT, locale TEXT, consent_email TEXT)"
    )
    with path.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        batch = []
        for row in reader:
            batch.append((row["email"].strip().lower(), row["phone"], row["first_name"],
                          row["last_name"], row["locale"], row["consent_email"]))
            if len(batch) == 500:
                connection.executemany(
                    "INSERT INTO contacts VALUES (?,?,?,?,?,?) ON CONFLICT(email) DO UPDATE "
                    "SET phone=excluded.phone, first_name=excluded.first_name", batch)
                connection.commit()
                batch.clear()
        if batch:
            connection.executemany(
                "INSERT INTO contacts VALUES (?,?,?,?,?,?) ON CONFLICT(email) DO UPDATE "
                "SET phone=excluded.phone, first_name=excluded.first_name", batch)
            connection.commit()
    connection.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = root / "people.csv"
        _write_csv(source, args.rows)
        baseline = _baseline(source, root / "plain.db")
        runtime = make_installation(root / "hub").runtime()
        started = time.perf_counter()
        report = import_contacts(runtime.engine, runtime.identity, runtime.vault, source,
                                 source="bench")
        hub_seconds = time.perf_counter() - started
        runtime.engine.dispose()
    if report.created != args.rows or report.rejected:
        raise SystemExit(f"import went wrong: {report}")
    print(json.dumps({
        "benchmark": "contacts import, SQLite",
        "rows": args.rows,
        "hub_rows_per_second": round(args.rows / hub_seconds),
        "plaintext_baseline_rows_per_second": round(args.rows / baseline),
        "hub_time_over_baseline": round(hub_seconds / baseline, 2),
    }, indent=2))


if __name__ == "__main__":
    main()
