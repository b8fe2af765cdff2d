"""
The Shopware 6 emulator's cost model and fault switchboard (reliability-
performance.md C.1, D.2), in process and on a real socket.
"""

from __future__ import annotations

import anyio
import httpx
import pytest

from ecomsync.testing.shopware6 import (
    Faults,
    ShopwareEmulator,
    seed_id,
    serve,
)

from ._sw6 import (
    CID,
    MEDIA,
    SECRET,
    create_media,
    login,
    pid,
    product,
    raw_client,
    sync,
    upload,
    upsert,
)


pytestmark = pytest.mark.anyio


class TestFaults:
    async def test_latency_and_base(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """latency_ms + base_ms delay every request."""
        emu.faults = Faults(latency_ms=40, base_ms=20)
        t = anyio.current_time()
        await client.get("/api/_info/version")
        assert anyio.current_time() - t >= 0.06

    async def test_per_item_and_upload(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Sync items and uploads cost their configured time."""
        emu.faults = Faults(per_item_ms=10, per_upload_ms=80)
        t = anyio.current_time()
        await sync(
            client,
            {"c": upsert("category", *({"name": str(i)} for i in range(10)))},
        )
        assert anyio.current_time() - t >= 0.1
        await create_media(client, MEDIA)
        t = anyio.current_time()
        await upload(client, MEDIA, b"x")
        assert anyio.current_time() - t >= 0.08
        assert emu.requests[-1].items == 1

    async def test_bandwidth(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Bodies queue on one shared link of the given bytes/s."""
        await create_media(client, MEDIA, seed_id("m2"))
        emu.faults = Faults(bandwidth_bps=100_000)
        t = anyio.current_time()
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                upload, client, MEDIA, b"x" * 10_000, "extension=jpg"
            )
            tg.start_soon(
                upload, client, seed_id("m2"), b"y" * 10_000, "extension=png"
            )
        # 20 kB over 100 kB/s takes at least 0.2 s, also when parallel.
        assert anyio.current_time() - t >= 0.19

    async def test_workers_limit(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """At most workers_limit requests are processed at once."""
        emu.faults = Faults(base_ms=50, workers_limit=2)
        t = anyio.current_time()
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(client.get, "/api/_info/version")
        # 6 requests / 2 workers x 50 ms.
        assert anyio.current_time() - t >= 0.15

    async def test_storm_next_n(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """The next N requests get 429 with Retry-After, then normal."""
        emu.faults = Faults(storm_next=2, retry_after="2")
        codes = []
        for _ in range(3):
            r = await client.get("/api/_info/version")
            codes.append(r.status_code)
            if r.status_code == 429:
                assert r.headers["retry-after"] == "2"
        assert codes == [429, 429, 200]

    async def test_storm_503_without_header(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A 503 storm can omit Retry-After."""
        emu.faults = Faults(storm_next=1, storm_status=503, retry_after=None)
        r = await client.get("/api/_info/version")
        assert r.status_code == 503
        assert "retry-after" not in r.headers

    async def test_storm_probability_is_seeded(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A probabilistic storm repeats exactly with the same seed."""

        async def run() -> list[int]:
            emu.faults = Faults(storm_probability=0.5, storm_seed=7)
            return [
                (await client.get("/api/_info/version")).status_code
                for _ in range(20)
            ]

        first = await run()
        assert first == await run()
        assert 0 < first.count(429) < 20

    async def test_storm_spares_auth(self, emu: ShopwareEmulator) -> None:
        """The token endpoint is spared unless storm_auth."""
        emu.faults = Faults(storm_next=1)
        async with raw_client(emu) as c:
            await login(c)
            r = await c.get("/api/_info/version")
        assert r.status_code == 429

    async def test_connection_reset(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A reset surfaces as a transport error and writes nothing."""
        emu.faults = Faults(reset_next=1)
        with pytest.raises(httpx.TransportError):
            await sync(client, {"p": upsert("product", product("RST", emu))})
        assert pid("RST") not in emu.entities["product"]
        r = await sync(client, {"p": upsert("product", product("RST", emu))})
        assert r.status_code == 200

    async def test_slow_drip(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A dripped response arrives whole but slowly."""
        emu.faults = Faults(drip_chunk_bytes=20, drip_interval_ms=20)
        t = anyio.current_time()
        r = await client.post("/api/search/currency", json={})
        assert r.json()["total"] == 1
        chunks = -(-len(r.content) // 20)
        assert anyio.current_time() - t >= (chunks - 1) * 0.02

    async def test_commit_then_timeout_replay(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A timed-out but committed sync, replayed, creates no duplicate."""
        emu.faults = Faults(commit_then_timeout=1, hang_s=30)
        body = {"p": upsert("product", product("CT", emu))}
        with pytest.raises(TimeoutError):
            with anyio.fail_after(0.2):
                await sync(client, body)
        assert pid("CT") in emu.entities["product"]
        r = await sync(client, body)
        assert r.status_code == 200
        numbers = [
            p["productNumber"] for p in emu.entities["product"].values()
        ]
        assert numbers.count("CT") == 1

    async def test_faults_reset_on_assignment(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Assigning Faults starts counting afresh; default is all off."""
        emu.faults = Faults(storm_next=5)
        emu.faults = Faults()
        assert (await client.get("/api/_info/version")).status_code == 200

    async def test_request_log(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Requests are logged with route, item count and byte counters."""
        await sync(
            client,
            {"c": upsert("category", {"name": "a"}, {"name": "b"})},
        )
        rec = emu.requests[-1]
        assert (rec.method, rec.route, rec.status, rec.items) == (
            "POST",
            "sync",
            200,
            2,
        )
        assert emu.route_counts["sync"] == 1
        assert emu.route_counts["token"] == 1
        assert emu.bytes_received >= rec.bytes_in > 0


class TestServe:
    def test_real_http(self) -> None:
        """serve() answers real HTTP on loopback."""
        emu = ShopwareEmulator(client_id=CID, client_secret=SECRET)
        with serve(emu) as base, httpx.Client(base_url=base) as c:
            assert base.startswith("http://127.0.0.1:")
            r = c.post(
                "/api/oauth/token",
                json={
                    "grant_type": "client_credentials",
                    "client_id": CID,
                    "client_secret": SECRET,
                },
            )
            assert r.status_code == 200
            token = r.json()["access_token"]
            r = c.get(
                "/api/_info/version",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 200
        assert emu.route_counts["version"] == 1

    def test_reset_drops_connection(self) -> None:
        """On a real socket an injected reset closes the connection."""
        emu = ShopwareEmulator(
            client_id=CID, client_secret=SECRET, faults=Faults(reset_next=1)
        )
        with serve(emu) as base, httpx.Client(base_url=base) as c:
            with pytest.raises(httpx.TransportError):
                c.get("/api/_info/version")
            assert c.get("/api/_info/version").status_code == 401
