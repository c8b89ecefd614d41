"""The billing unit of work: one database transaction, its repositories and its outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters.sqlalchemy_invoicing import (
    SqlAlchemyInvoiceRepository,
    SqlAlchemyPaymentRepository,
)
from billing.adapters.sqlalchemy_repositories import (
    SqlAlchemyLedgerRepository,
    SqlAlchemyPriceRepository,
    SqlAlchemyReservationRepository,
    SqlAlchemyUsageRepository,
)
from billing.adapters.sqlalchemy_subscriptions import (
    SqlAlchemyCatalogueRepository,
    SqlAlchemySubscriptionRepository,
)
from igny8.db import SqlAlchemyUnitOfWork


class BillingUnitOfWork(SqlAlchemyUnitOfWork):
    source = "billing"

    def _bind(self, session: AsyncSession) -> None:
        self.ledger = SqlAlchemyLedgerRepository(session)
        self.reservations = SqlAlchemyReservationRepository(session)
        self.prices = SqlAlchemyPriceRepository(session)
        self.usage = SqlAlchemyUsageRepository(session)
        self.catalogue = SqlAlchemyCatalogueRepository(session)
        self.invoices = SqlAlchemyInvoiceRepository(session)
        self.payments = SqlAlchemyPaymentRepository(session)
        self.subscriptions = SqlAlchemySubscriptionRepository(session)
