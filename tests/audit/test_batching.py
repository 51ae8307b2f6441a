"""One journal write per event loop turn for the requests answered on the loop."""

from __future__ import annotations

import asyncio

import pytest

from rolegate.audit.batching import LoopBatcher, collecting, collector


def test_submissions_of_one_loop_turn_share_one_write() -> None:
    writes: list[bytes] = []

    async def main() -> None:
        batcher = LoopBatcher(writes.append)
        first = batcher.submit(b"a\n")
        second = batcher.submit(b"b\n")
        assert first is second and not first.done() and writes == []
        await asyncio.gather(first, second)
        assert writes == [b"a\nb\n"]
        await batcher.submit(b"c\n")
        assert writes == [b"a\nb\n", b"c\n"]

    asyncio.run(main())


def test_a_failed_write_fails_every_waiting_request() -> None:
    def failing(data: bytes) -> None:
        raise OSError(28, "No space left on device")

    async def main() -> None:
        batcher = LoopBatcher(failing)
        futures = [batcher.submit(b"a\n"), batcher.submit(b"b\n")]
        for future in futures:
            with pytest.raises(OSError):
                await future
        recovered: list[bytes] = []
        batcher._write = recovered.append
        await batcher.submit(b"c\n")
        assert recovered == [b"c\n"]

    asyncio.run(main())


def test_collecting_hands_the_lines_to_the_batcher_once_the_handler_returned() -> None:
    writes: list[bytes] = []

    async def main() -> None:
        assert collector() is None
        with collecting() as collected:
            current = collector()
            assert current is collected
            current.lines.append(b"x\n")
            current.batcher = LoopBatcher(writes.append)
        assert collector() is None
        assert writes == []
        await collected.written()
        assert writes == [b"x\n"]
        with collecting() as empty:
            pass
        await empty.written()  # nothing collected: nothing written, no wait

    asyncio.run(main())
