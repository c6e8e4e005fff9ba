"""Contacts: applying a source's picture of a person to the vault, importing files."""
