"""A fake usbmuxd on 127.0.0.1 with one unpaired iPhone behind it, for pymobiledevice3's real discovery code.

usbmuxd's plist protocol: each packet is a little-endian u32 length (counting itself), a header of
three u32 (version 1 = plist, message 8 = plist, tag) and an XML plist. It answers `ReadBUID`,
`ListDevices`, `ReadPairRecord` (none: the phone was never paired with this host) and `Connect`,
after which the socket is a stream to the phone's lockdownd: big-endian u32 length + plist, where
`QueryType` and an unpaired `GetValue` are answered as an iPhone answers them before pairing.
Point clients at it with USBMUXD_SOCKET_ADDRESS=127.0.0.1:PORT.
"""

from __future__ import annotations

import asyncio
import plistlib
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

UDID = "00008110-001A2B3C4D5E801E"
VALUES = {"DeviceName": "Lab iPhone", "ProductType": "iPhone15,2", "ProductVersion": "17.4.1",
          "BuildVersion": "21E236", "UniqueDeviceID": UDID, "DeviceClass": "iPhone", "CPUArchitecture": "arm64e",
          "HardwareModel": "D73AP"}


def _packet(tag: int, body: dict[str, Any]) -> bytes:
    payload = plistlib.dumps(body)
    return struct.pack("<IIII", 16 + len(payload), 1, 8, tag) + payload


async def _lockdownd(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        try:
            (size,) = struct.unpack(">I", await reader.readexactly(4))
            request = plistlib.loads(await reader.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        name = request.get("Request")
        if name == "QueryType":
            reply: dict[str, Any] = {"Request": name, "Type": "com.apple.mobile.lockdown"}
        elif name == "GetValue" and request.get("Key") is None and request.get("Domain") is None:
            reply = {"Request": name, "Value": VALUES}
        elif name == "GetValue" and request.get("Key") in VALUES:
            reply = {"Request": name, "Key": request["Key"], "Value": VALUES[request["Key"]]}
        else:  # anything else needs a session, which needs pairing
            reply = {"Request": name, "Error": "InvalidHostID"}
        data = plistlib.dumps(reply)
        writer.write(struct.pack(">I", len(data)) + data)
        await writer.drain()


async def _client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            (size,) = struct.unpack("<I", await reader.readexactly(4))
            _, _, tag = struct.unpack("<III", await reader.readexactly(12))
            request = plistlib.loads(await reader.readexactly(size - 16))
            kind = request.get("MessageType")
            if kind == "ReadBUID":
                writer.write(_packet(tag, {"BUID": "5F8E2C9A-0000-4000-8000-00000000B0B0"}))
            elif kind == "ListDevices":
                writer.write(_packet(tag, {"DeviceList": [{"MessageType": "Attached", "DeviceID": 7, "Properties": {
                    "SerialNumber": UDID, "ConnectionType": "USB", "DeviceID": 7, "ProductID": 0x12A8,
                    "ConnectionSpeed": 480000000, "LocationID": 0}}]}))
            elif kind == "ReadPairRecord":
                writer.write(_packet(tag, {"MessageType": "Result", "Number": 2}))  # no such record
            elif kind == "Connect" and request.get("DeviceID") == 7:
                writer.write(_packet(tag, {"MessageType": "Result", "Number": 0}))
                await writer.drain()
                await _lockdownd(reader, writer)
                return
            else:
                writer.write(_packet(tag, {"MessageType": "Result", "Number": 1}))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@contextmanager
def fake_usbmuxd() -> Iterator[str]:
    """Serve on 127.0.0.1 in a thread; yield the USBMUXD_SOCKET_ADDRESS value."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        server = await asyncio.start_server(_client, "127.0.0.1", 0)
        holder["server"], holder["port"] = server, server.sockets[0].getsockname()[1]
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    ready.wait(10)
    async def stop() -> None:
        holder["server"].close()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()
        await asyncio.sleep(0)

    try:
        yield f"127.0.0.1:{holder['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
