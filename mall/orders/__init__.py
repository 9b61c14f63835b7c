"""Orders: placing them with stock reserved, their lifecycle with working-day
deadlines, returns and terminations verified by operators, statistics."""

from mall.orders.models import OrderChangeRequest, OrderIdempotencyKey, OrderLine, PurchaseOrder

__all__ = ["OrderChangeRequest", "OrderIdempotencyKey", "OrderLine", "PurchaseOrder"]
