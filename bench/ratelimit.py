"""What the check endpoint's rate limits cost per request: in process, and on Redis.

    .venv/bin/python bench/ratelimit.py [--redis redis://127.0.0.1:6379/0]

Times `check_limited` (the client address's key, both limits counted, the site already known
from the key cache) against the same call with no limiter, and prints the difference per
request. The Redis figure is one request at a time: one round trip each.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from types import SimpleNamespace

from starlette.requests import Request

from moderation.api.deps import check_limited
from moderation.ratelimit import Limiter, MemoryLimiter, Rate, RateLimits
from moderation.ratelimit_redis import RedisLimiter
from moderation.store import Site

# Limits no request reaches: every request is counted and allowed, the common case.
UNREACHED = Rate(1e9, 10**9)


async def per_request(limiter: Limiter, requests: int) -> float:
    """Microseconds the limits add to one check request (best of three runs)."""
    state = SimpleNamespace(
        rate_limiter=limiter,
        rate_limits=RateLimits(check_per_key=UNREACHED, check_per_ip=UNREACHED),
        trusted_networks=(),
    )
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/comments/check",
        "query_string": b"",
        "headers": [(b"authorization", b"Bearer x")],
        "client": ("198.51.100.7", 50000),
        "app": SimpleNamespace(state=state),
    }
    site: Site = SimpleNamespace(id=1)  # type: ignore[assignment]

    async def authenticate() -> Site:
        return site

    async def run(with_limiter: Limiter | None) -> float:
        state.rate_limiter = with_limiter
        start = time.perf_counter()
        for _ in range(requests):
            request = Request(scope)
            _ = request.headers  # parsed by the key's dependency in the app: not the limits' cost
            await check_limited(request, authenticate, known=site)
        return time.perf_counter() - start

    best = float("inf")
    for _ in range(3):
        limited, bare = await run(limiter), await run(None)
        best = min(best, (limited - bare) / requests * 1e6)
    return best


async def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    print(f"in process: {await per_request(MemoryLimiter(), 100_000):.1f} µs per check request")
    redis_limiter = RedisLimiter(args.redis, prefix=f"moderation-bench:{uuid.uuid4().hex}:")
    try:
        figure = await per_request(redis_limiter, 3_000)
        print(f"redis ({args.redis}): {figure:.0f} µs per check request (one round trip)")
    finally:
        await redis_limiter.close()


if __name__ == "__main__":
    asyncio.run(main())
