"""The central pressure ledger: one rule language, atomic reservations, explained decisions."""
