"""ORM models, one module per domain; importing this package registers them all."""

from models import account, audit, catalog, commission, network, order, outbox, wallet, withdrawal  # noqa: F401
from models.base import Base

metadata = Base.metadata
