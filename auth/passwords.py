"""Password hashing with argon2id."""

from __future__ import annotations

import asyncio
import os

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2id with the library's recommended parameters (about 0.1-0.2 s a hash on one core).
# The test environment hashes thousands of throwaway passwords, so it takes the cheapest
# profile; any other environment, production above all, keeps the recommended one.
_hasher = (PasswordHasher.from_parameters(profiles.CHEAPEST) if os.environ.get("APP_ENV") == "test"
           else PasswordHasher())
# Verified against when the phone is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# Hashing costs about 0.1-0.2 s of CPU on purpose; run it on a worker thread (argon2 releases
# the GIL) so the event loop keeps serving other requests meanwhile.

async def hash_password_off_loop(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)
