"""The bundled ``prestashop`` brick: a PrestaShop shop's carts, orders and customers.

Polls the shop's webservice (``/api/carts``, ``/api/orders``, ``/api/customers``...): carts
left without an order become ``cart.abandoned`` events, orders ``order.placed``, and customers
contacts with their newsletter and partner-offer consents. Nothing is written to the shop.
"""

from collections.abc import Callable

from contracts import Brick
from hub.sdk import hookimpl
from plugins.prestashop.brick import PrestaShopBrick

__all__ = ["PrestaShopBrick", "hub_register_bricks"]


@hookimpl
def hub_register_bricks(register: Callable[[type[Brick]], None]) -> None:
    """Hand the core the PrestaShop brick class, exactly as a third-party brick would."""
    register(PrestaShopBrick)
