"""A NAS's Dynamic Authorization listener on loopback (RFC 5176), built on
pyrad's server side, as the RADIUS tests and the benchmark need one: it checks
every Disconnect-Request's Request Authenticator and Message-Authenticator with
the shared secret, writes one JSON line per request to ``--log`` and answers as
``--mode`` says: ``ack`` (Disconnect-ACK), ``nak503`` (Disconnect-NAK,
Error-Cause 503) or ``silent`` (never answers).

``python -m tests.network.nas --secret S --mode ack --log nas.jsonl`` prints
``NAS listening on <port>`` once ready.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys

from pyrad import packet as rp

from network.radius.packets import DICTIONARY

SESSION_CONTEXT_NOT_FOUND = 503


class NasProtocol(asyncio.DatagramProtocol):
    def __init__(self, secret: bytes, mode: str, log):
        self.secret = secret
        self.mode = mode
        self.log = log
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, address):
        try:
            request = rp.CoAPacket(packet=data, secret=self.secret, dict=DICTIONARY)
            verified = (
                request.code == rp.DisconnectRequest
                and request.VerifyCoARequest()
                and bool(request.message_authenticator)
                and request.verify_message_authenticator()
            )
        except rp.PacketError:
            return
        if self.log is not None:
            record = {
                "verified": verified,
                "user_name": _text(request, "User-Name"),
                "session_id": _text(request, "Acct-Session-Id"),
                "framed_ip": _text(request, "Framed-IP-Address"),
            }
            self.log.write(json.dumps(record) + "\n")
            self.log.flush()
        if not verified or self.mode == "silent":
            return
        reply = request.CreateReply()
        if self.mode == "nak503":
            reply.code = rp.DisconnectNAK
            reply["Error-Cause"] = SESSION_CONTEXT_NOT_FOUND
        reply.message_authenticator = True
        self.transport.sendto(reply.ReplyPacket(), address)


def _text(request, name: str) -> str:
    values = request.get(name)
    return str(values[0]) if values else ""


async def serve(host: str, port: int, secret: str, mode: str, log_path: str) -> None:
    loop = asyncio.get_running_loop()
    with open(log_path, "a") if log_path else contextlib.nullcontext() as log:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: NasProtocol(secret.encode(), mode, log), local_addr=(host, port)
        )
        print(f"NAS listening on {transport.get_extra_info('sockname')[1]}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            transport.close()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--mode", choices=["ack", "nak503", "silent"], default="ack")
    parser.add_argument("--log", default="", help="JSON lines of the requests (none if empty)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.host, args.port, args.secret, args.mode, args.log))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
