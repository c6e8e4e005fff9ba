"""Identity resolution: turning natural identifiers into stable, comparable values."""
