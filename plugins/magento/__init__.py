"""The bundled ``magento`` brick: Magento 2 / Adobe Commerce carts, orders and customers.

Magento sends no webhooks for carts, so the brick polls its admin REST API: active carts left
untouched for ``abandonment_delay`` become ``cart.abandoned`` events and new orders
``order.placed`` events (``hub events poll --from magento``); customers and their newsletter
subscription become contacts with an email consent (``hub contacts pull --from magento``).
See docs/bricks/magento.md.
"""

from collections.abc import Callable

from contracts import Brick
from hub.sdk import hookimpl
from plugins.magento.brick import MagentoBrick

__all__ = ["MagentoBrick", "hub_register_bricks"]


@hookimpl
def hub_register_bricks(register: Callable[[type[Brick]], None]) -> None:
    """Hand the core the Magento brick class, exactly as a third-party brick would."""
    register(MagentoBrick)
