"""A stand-in for the two kubectl calls deploy.sh's smoke step makes, so the test can run the
real script against roles running on this machine (there is no cluster here):

- ``kubectl -n NS get secret roost-secrets -o jsonpath={.data.ROOST_API_KEYS}``: the base64 of
  ``$STAND_IN_API_KEYS`` (exit 1, as kubectl does for a missing Secret, when it is unset);
- ``kubectl -n NS port-forward svc/NAME LOCAL:PORT``: a TCP relay from 127.0.0.1:LOCAL to the
  local port ``$STAND_IN_SERVICES`` (JSON: Service name -> port) gives that Service.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys


def main(arguments: list[str]) -> int:
    if "-n" in arguments:
        at = arguments.index("-n")
        del arguments[at : at + 2]
    if arguments[:3] == ["get", "secret", "roost-secrets"]:
        keys = os.environ.get("STAND_IN_API_KEYS")
        if keys is None:
            print(
                'Error from server (NotFound): secrets "roost-secrets" not found', file=sys.stderr
            )
            return 1
        print(base64.b64encode(keys.encode()).decode(), end="")
        return 0
    if arguments[:1] == ["port-forward"]:
        service = arguments[1].removeprefix("svc/")
        local = int(arguments[2].split(":")[0])
        target = json.loads(os.environ["STAND_IN_SERVICES"])[service]
        asyncio.run(relay(local, target))
        return 0
    print(f"kubectl stand-in: unsupported {arguments}", file=sys.stderr)
    return 2


async def relay(local: int, target: int) -> None:
    async def connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(connect, "127.0.0.1", local)
    async with server:
        await server.serve_forever()


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
