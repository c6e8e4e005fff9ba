"""The bundled `onesignal` brick (being written)."""
