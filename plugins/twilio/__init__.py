"""The bundled `twilio` brick (being written)."""
