"""`crm`: the one command line of the suite."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from crmkit.config import SERVICE_NAMES, ConfigError, Settings
from crmkit.errors import ServiceError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crm", description="The CRM suite.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a target in the foreground")
    from suite.targets import TARGETS

    run.add_argument("--target", required=True, choices=TARGETS, help="what this process runs")

    migrate = commands.add_parser("migrate", help="create databases, apply migrations, declare queues")
    migrate.add_argument("--only", choices=("gateway", *SERVICE_NAMES), help="migrate just this one")

    admin = commands.add_parser("admin", help="administration").add_subparsers(dest="action", required=True)
    create = admin.add_parser("create-tenant", help="create a tenant and print its first admin API key")
    create.add_argument("name")
    admin.add_parser(
        "rotate-secrets",
        help="re-seal stored connection secrets under the first key of CRM_SECRET_KEYS (then drop the old key)",
    )

    keys = commands.add_parser("keys", help="the keys that sign OAuth access tokens").add_subparsers(
        dest="action", required=True
    )
    keys.add_parser("list", help="list signing keys (kid, created, retired)")
    keys.add_parser("rotate", help="add a key that signs from now on; older keys still verify")
    retire = keys.add_parser("retire", help="stop accepting tokens signed by a key")
    retire.add_argument("kid")

    audit = commands.add_parser("audit", help="the gateway's audit log").add_subparsers(dest="action", required=True)
    verify = audit.add_parser("verify", help="walk a tenant's hash chain; exit 1 naming the first broken entry")
    verify.add_argument("--tenant", required=True, help="the tenant id")

    dlq = commands.add_parser("dlq", help="inspect and replay dead letters").add_subparsers(
        dest="action", required=True
    )
    for action, text in (("list", "list dead letters"), ("replay", "move dead letters back to their queue")):
        sub = dlq.add_parser(action, help=text)
        sub.add_argument("consumer", help="e.g. marketing.contact-projection")
        sub.add_argument("--limit", type=int, default=100)

    show = dlq.add_parser("show", help="show one dead letter in full (payload included)")
    show.add_argument("consumer")
    show.add_argument("message_id")

    commands.add_parser("openapi", help="print the OpenAPI document")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
        return _dispatch(args, settings)
    except (ConfigError, ServiceError) as exc:
        print(f"crm: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from suite import targets

    if args.command == "run":
        targets.run(args.target, settings)
    elif args.command == "migrate":
        targets.migrate(settings, [args.only] if args.only else ("gateway", *SERVICE_NAMES))
        print("migrated", file=sys.stderr)
    elif args.command == "admin" and args.action == "rotate-secrets":
        from crmkit.db import Database
        from crmkit.migrations import upgrade
        from services.integrations.connections import Connections, LazySecretBox
        from services.integrations.module import MIGRATIONS as INTEGRATIONS

        url = settings.database_url_for("integrations")
        targets.ensure_database(url)
        upgrade(INTEGRATIONS, url)
        integrations_db = Database(url)
        try:
            connections = Connections(integrations_db, LazySecretBox(integrations_db, settings.secret_keys))
            resealed = connections.rotate_secrets()
            print(json.dumps({"resealed": resealed, "keyId": connections.secrets.box.current_key_id}))
        finally:
            integrations_db.dispose()
    elif args.command == "admin":
        from crmkit.migrations import upgrade
        from gateway.module import MIGRATIONS, database
        from gateway.tenancy import Tenancy

        targets.ensure_database(settings.database_url_for("gateway"))
        upgrade(MIGRATIONS, settings.database_url_for("gateway"))
        created = Tenancy(database(settings)).create_tenant(args.name)
        print(json.dumps({"tenantId": created.tenant_id, "apiKey": created.api_key, "keyId": created.key_id}))
    elif args.command == "keys":
        from crmkit.migrations import upgrade
        from gateway.module import MIGRATIONS, database
        from gateway.oauth import SigningKeys

        targets.ensure_database(settings.database_url_for("gateway"))
        upgrade(MIGRATIONS, settings.database_url_for("gateway"))
        signing = SigningKeys(database(settings), settings.signing_key_passphrase)
        if args.action == "rotate":
            print(json.dumps({"kid": signing.rotate()}))
        elif args.action == "retire":
            signing.retire(args.kid)
            from gateway.auth import signing_key_tag
            from gateway.credcache import announce

            announce(settings.redis_url, settings.redis_prefix, signing_key_tag(args.kid))
            print(json.dumps({"retired": args.kid}))
        else:
            for key in signing.listed():
                print(json.dumps(key))
    elif args.command == "audit":
        from gateway.audit import AuditLog
        from gateway.module import database

        verdict = AuditLog(database(settings)).verify(args.tenant)
        print(json.dumps(verdict.as_dict()))
        if not verdict.ok:
            print(f"crm: audit chain broken at entry {verdict.sequence}: {verdict.reason}", file=sys.stderr)
            return 1
    elif args.command == "dlq":
        from crmkit.events import make_bus

        bus = make_bus(settings)
        if args.action == "list":
            for letter in bus.dead_letters(args.consumer, args.limit):
                print(json.dumps({"id": letter.message_id, "type": letter.event_type, "error": letter.error}))
        elif args.action == "show":
            from suite.dlq import describe

            found = [x for x in bus.dead_letters(args.consumer, 10_000) if x.message_id == args.message_id]
            if not found:
                print(f"crm: no dead letter {args.message_id} for {args.consumer}", file=sys.stderr)
                return 1
            print(json.dumps(describe(found[0]), indent=2))
        else:
            print(json.dumps({"replayed": bus.replay_dead_letters(args.consumer, args.limit)}))
    elif args.command == "openapi":
        from gateway.openapi import document
        from gateway.routes import discover

        print(json.dumps(document(discover()), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
