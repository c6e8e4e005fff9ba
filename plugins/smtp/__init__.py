"""The bundled `smtp` brick (being written)."""
