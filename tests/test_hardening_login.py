"""Sign-in limits under concurrency, and a lockout an attacker cannot cheaply turn on a user."""

from __future__ import annotations

import asyncio

import pytest

from tests.factories import PASSWORD, register



@pytest.fixture
async def proxied(make_client):
    """The app behind a proxy on loopback, so each request's X-Forwarded-For is its client."""
    return await make_client(forwarded_allow_ips=("127.0.0.1",))


LOGIN = "mutation($i: LoginInput!) { login(input: $i) { accessToken userErrors { code } } }"


async def _login(client, phone: str, password: str, ip: str) -> str | None:
    body = (await client.post(LOGIN, {"i": {"phone": phone, "password": password}},
                              headers={"x-forwarded-for": ip})).json()
    errors = body["data"]["login"]["userErrors"]
    return errors[0]["code"] if errors else None


async def test_sixty_concurrent_wrong_passwords_get_five_checks(proxied):
    client = proxied
    user = await register(client)
    phone = user["user"]["phone"]
    codes = await asyncio.gather(*(_login(client, phone, "wrong-password-1", "198.51.100.7") for _ in range(60)))
    assert codes.count("INVALID_CREDENTIALS") == 5
    assert codes.count("RATE_LIMITED") == 55


async def test_eighty_concurrent_attempts_from_one_address_get_thirty_checks(proxied):
    client = proxied
    phones = [(await register(client))["user"]["phone"] for _ in range(8)]
    codes = await asyncio.gather(*(_login(client, phones[i % 8], "wrong-password-1", "198.51.100.8")
                                   for i in range(80)))
    assert codes.count("INVALID_CREDENTIALS") == 30
    assert codes.count("RATE_LIMITED") == 50


async def test_an_attacker_elsewhere_does_not_lock_the_owner_out(proxied):
    client = proxied
    user = await register(client)
    phone = user["user"]["phone"]
    for _ in range(6):
        await _login(client, phone, "wrong-password-1", "203.0.113.50")
    assert await _login(client, phone, "wrong-password-1", "203.0.113.50") == "RATE_LIMITED"
    assert await _login(client, phone, PASSWORD, "203.0.113.50") == "RATE_LIMITED"
    assert await _login(client, phone, PASSWORD, "192.0.2.10") is None  # the owner, from their own address


async def test_many_addresses_together_trip_the_per_phone_backstop(make_client):
    client = await make_client(login_failures_per_phone_all_ips=12, forwarded_allow_ips=("127.0.0.1",))
    user = await register(client)
    phone = user["user"]["phone"]
    for i in range(12):
        assert await _login(client, phone, "wrong-password-1", f"203.0.113.{i}") == "INVALID_CREDENTIALS"
    assert await _login(client, phone, "wrong-password-1", "203.0.113.99") == "RATE_LIMITED"
