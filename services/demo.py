"""A small demo data set for `app.py --demo`; loading it twice changes nothing."""

from __future__ import annotations

from sqlalchemy import select

from auth.permissions import Permission
from core.config import Settings
from core.db import create_engine, create_sessionmaker
from models.account import User
from services import account

DEMO_STAFF_PHONE = "13800000000"
DEMO_PASSWORD = "demo-pass-123"
DEMO_CUSTOMERS = [("13800000001", "Alice"), ("13800000002", "Bob"), ("13800000003", "Carol")]


async def load_demo(settings: Settings) -> str:
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            created = 0
            if await session.scalar(select(User.id).where(User.phone == DEMO_STAFF_PHONE)) is None:
                await account.create_staff(session, phone=DEMO_STAFF_PHONE, password=DEMO_PASSWORD,
                                           nickname="Demo admin", permissions=set(Permission), actor_id=None)
                created += 1
            for phone, nickname in DEMO_CUSTOMERS:
                if await session.scalar(select(User.id).where(User.phone == phone)) is None:
                    session.add(User(phone=phone, nickname=nickname,
                                     password_hash=account.hash_password(DEMO_PASSWORD)))
                    created += 1
            await session.commit()
    finally:
        await engine.dispose()
    return (f"Demo data: {created} records added. Staff {DEMO_STAFF_PHONE} and customers "
            f"{', '.join(p for p, _ in DEMO_CUSTOMERS)} sign in with password {DEMO_PASSWORD!r}.")
