"""The SMTP brick passes the standard conformance suite (it speaks SMTP, not HTTP)."""

from hub.testing import BrickConformance
from plugins.smtp import SmtpBrick


class TestSmtpConformance(BrickConformance):
    brick = SmtpBrick
    settings = {
        "host": "smtp.example.org",
        "port": 587,
        "security": "starttls",
        "username": "hub-sender",
        "password": "example-password-123",
        "from_address": "shop@example.org",
        "from_name": "Demo Shop",
        "templates_dir": "templates",
        "list_unsubscribe_url": "https://shop.example.org/unsubscribe/{pseudonym}",
        "list_unsubscribe_mailto": "unsubscribe@example.org",
    }
