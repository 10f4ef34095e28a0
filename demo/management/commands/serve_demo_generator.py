"""manage.py serve_demo_generator: the demo synthesiser as an HTTP generator (POST /<profile> with JSON)."""
from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from demo.generator import PROFILES
from demo.generator_service import demo_generator_server


class Command(BaseCommand):
    help = (
        "Serve the demo synthesiser over HTTP for HttpJsonGenerator: POST /<profile> "
        f"({', '.join(PROFILES)}) with {{\"prompt\", \"duration\", \"seed\", \"bpm\"}} answers audio/wav."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--sample-rate", type=int, default=22050)
        parser.add_argument("--secret-env", default="",
                            help="name of an environment variable holding a bearer token the service requires")

    def handle(self, *args: Any, **options: Any) -> None:
        secret = os.environ.get(options["secret_env"]) if options["secret_env"] else None
        server = demo_generator_server(host=options["host"], port=options["port"],
                                       sample_rate=options["sample_rate"], secret=secret)
        host, port = str(server.server_address[0]), int(server.server_address[1])
        self.stdout.write(f"demo generator on http://{host}:{port}/<profile> (profiles: {', '.join(PROFILES)})")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
