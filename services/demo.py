"""A small demo data set for `app.py --demo`: staff, regions, a program with grades, a chain of
distributors with a bound customer, and a catalog with price bands. Loading it twice changes nothing."""

from __future__ import annotations

from sqlalchemy import select

from auth.permissions import Permission
from core.config import Settings
from core.db import create_engine, create_sessionmaker
from models.account import User
from models.base import utcnow
from models.catalog import Category, Product, Sku, Supplier
from models.network import CustomerBinding, Distributor, DistributorStatus, Grade, ShareKind
from services import account, region
from services.network.placement import new_invite_code
from services.network.program import default_program

DEMO_STAFF_PHONE = "13800000000"
DEMO_PASSWORD = "demo-pass-123"
# (phone, nickname, grade level); each invites the next; the last one is a plain customer.
DEMO_PEOPLE = [("13800000001", "Alice", 2), ("13800000002", "Bob", 1), ("13800000003", "Carol", 1),
               ("13800000004", "Dave", None)]
DEMO_GRADES = [
    dict(name="普通分销员", level=1, tier1_rate_bps=1000, tier2_rate_bps=500, tier3_rate_bps=200),
    dict(name="银牌分销员", level=2, tier1_rate_bps=1200, tier2_rate_bps=600, tier3_rate_bps=300, discount_bps=500,
         min_personal_sales_fen=100_000),
    dict(name="合伙人", level=3, tier1_rate_bps=1500, tier2_rate_bps=800, tier3_rate_bps=400, is_partner=True,
         team_bonus_bps=300, min_team_sales_fen=10_000_000, min_team_size=100),
]
DEMO_PRODUCTS = [
    ("明前龙井 250g", [("LJ-250", {"规格": "250g"}, 19_800, 60, (16_800, 23_800))]),
    ("纯棉T恤", [("TS-M-WHITE", {"尺码": "M", "颜色": "白"}, 9_900, 200, (7_900, 12_900)),
                ("TS-L-BLACK", {"尺码": "L", "颜色": "黑"}, 9_900, 150, (7_900, 12_900))]),
]


async def load_demo(settings: Settings) -> str:
    engine = create_engine(settings.database_url)
    added: list[str] = []
    try:
        async with create_sessionmaker(engine)() as session:
            staff = await session.scalar(select(User).where(User.phone == DEMO_STAFF_PHONE))
            if staff is None:
                staff = await account.create_staff(session, phone=DEMO_STAFF_PHONE, password=DEMO_PASSWORD,
                                                   nickname="Demo admin", permissions=set(Permission), actor_id=None)
                added.append("staff")
            if await region.load_regions(session):
                added.append("regions")
            if await session.scalar(select(Grade.id).limit(1)) is None:
                await _network(session)
                added.append("network")
            if await session.scalar(select(Product.id).limit(1)) is None:
                await _catalog(session)
                added.append("catalog")
            await session.commit()
    finally:
        await engine.dispose()
    people = ", ".join(f"{nick} {phone}" for phone, nick, _ in DEMO_PEOPLE)
    return (f"Demo data: {', '.join(added) or 'nothing new'} loaded. Staff {DEMO_STAFF_PHONE}; "
            f"distributors and customer {people}; password {DEMO_PASSWORD!r} for all.")


async def _network(session) -> None:
    program = default_program()
    program.commission_depth = 3
    session.add(await session.merge(program))
    grades = {}
    for spec in DEMO_GRADES:
        grade = Grade(**spec)
        session.add(grade)
        grades[spec["level"]] = grade
    await session.flush()
    parent: Distributor | None = None
    for phone, nickname, level in DEMO_PEOPLE:
        user = await session.scalar(select(User).where(User.phone == phone))
        if user is None:
            user = User(phone=phone, nickname=nickname, password_hash=account.hash_password(DEMO_PASSWORD))
            session.add(user)
            await session.flush()
        if level is None:
            session.add(CustomerBinding(customer_id=user.id, distributor_id=parent.id, source=ShareKind.INVITE_CODE))
            continue
        distributor = Distributor(user_id=user.id, status=DistributorStatus.ACTIVE, grade_id=grades[level].id,
                                  parent_id=parent.id if parent else None, depth=0,
                                  invite_code=new_invite_code(), joined_at=utcnow())
        session.add(distributor)
        await session.flush()
        distributor.path = f"{parent.path if parent else '/'}{distributor.id}/"
        distributor.depth = distributor.path.count("/") - 2
        parent = distributor
    await session.flush()


async def _catalog(session) -> None:
    supplier = Supplier(name="杭州示例供应链", contact="0571-00000000")
    category = Category(name="精选", sort_order=0)
    session.add_all([supplier, category])
    await session.flush()
    for title, skus in DEMO_PRODUCTS:
        product = Product(title=title, supplier_id=supplier.id, category_id=category.id, image_urls=[],
                          on_shelf=True, distributable=True, updated_at=utcnow())
        session.add(product)
        await session.flush()
        for code, attributes, price, stock, (low, high) in skus:
            session.add(Sku(product_id=product.id, code=code, attributes=attributes, price_fen=price, stock=stock,
                            band_min_fen=low, band_max_fen=high))
    await session.flush()


__all__ = ["load_demo"]
