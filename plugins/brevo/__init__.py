"""The bundled `brevo` brick (being written)."""
