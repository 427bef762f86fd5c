"""`kiosk-server`: run the server and administer it. Administration commands talk to the database
directly (not over HTTP), so they work before the server is running and from a maintenance shell.
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import json
import logging
import os
import sys
from pathlib import Path

import sqlalchemy as sa

from contract.config_files import default
from contract.guides import LibraryInvalid
from contract.library_settings import FILE_NAME as settings_file
from contract.translations import library_coverage
from server import auth, config, db, groups, publish, serving
from server.signing import load_or_create_key, public_key_b64


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--db", metavar="URL", default=None,
                   help="database URL: postgresql://user@host/db, or a SQLite file path or sqlite:/// URL "
                        "(default: env KIOSK_SERVER_DB, else server.db in the data dir)")
    p.add_argument("--data-dir", metavar="DIR", type=Path, default=None,
                   help="where the signing key and the default SQLite database live "
                        f"(default: env KIOSK_SERVER_DATA_DIR, else {db.DEFAULT_DATA_DIR})")
    return p


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(prog="kiosk-server", description="The guide kiosks' central server.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", parents=[common], help="run the HTTP server",
                           description="Run the API, the mobile continue pages and staff publishing.")
    serve.add_argument("--host", help="address to listen on (default: host in server.toml, else 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument("--stale-after", type=float, metavar="MINUTES", default=None,
                       help="a device not seen for this long is stale in the fleet view "
                            f"(default: env KIOSK_SERVER_STALE_AFTER, else {default(config.Config, 'stale_after'):g})")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])

    v = sub.add_parser("validate", help="check a guide library without publishing it",
                       description="Validate a library folder or .zip/.tar.gz bundle; print every problem.")
    v.add_argument("path", type=Path)
    v.add_argument("--json", action="store_true",
                   help="print the result as JSON: the problems, or the counts and each language's coverage")

    p = sub.add_parser("publish", parents=[common], help="publish a library as a new content version",
                       description="Validate, then publish the library as a new content version. An invalid "
                                   "library publishes nothing and every problem is printed.")
    p.add_argument("path", type=Path, help="library folder or .zip/.tar.gz bundle")
    p.add_argument("--by", default=None, help="who publishes (default: your login name)")
    p.add_argument("--note", default=None, help="a note kept with the content version")
    p.add_argument("--to", metavar="GROUP", default=None,
                   help="only this rollout group's kiosks receive it (a staged rollout, based on the group's "
                        "version); without it every group does, which supersedes any open stage")
    p.add_argument("--json", action="store_true",
                   help="print the result as JSON: the problems, or the content version and each language's coverage")

    ex = sub.add_parser("export", parents=[common], help="write a published content version as a library folder",
                        description="Write content version VERSION (default: the one the default group's kiosks "
                                    "receive) to DIR as a library folder in the documented format: one canonical "
                                    "YAML file per guide, its images at the paths the guide names, _library.yaml "
                                    "when the version has settings. Publishing or importing DIR gives the same "
                                    "content (the same digest; export checks it). Hand-written comments and "
                                    "layout are not kept. DIR must be empty or new, unless --force.")
    ex.add_argument("dir", type=Path, metavar="DIR")
    which = ex.add_mutually_exclusive_group()
    which.add_argument("--version", type=int, default=None, help="the content version (default: the default group's)")
    which.add_argument("--draft", type=int, default=None, metavar="ID",
                       help="a studio draft instead: the library it would publish (docs/studio.md); a draft "
                            "with problems is written as it is, its problems listed, and the command fails")
    ex.add_argument("--force", action="store_true",
                    help="export into a folder that is not empty: its guide files (*.yaml) and images (*.png, "
                         "*.jpg) are replaced; other files and hidden folders such as .git are kept")

    tr = sub.add_parser("translations", help="export one language of a library for translators, import it back",
                        description="Translation files (gettext PO, docs/translations.md). export: every text of "
                                    "the library's guides not written in LANG, with its existing LANG translation, "
                                    "for a translator's PO editor. import: the translations of a PO file written "
                                    "into the library folder; refused, changing nothing, when the file names texts "
                                    "the library does not have or translates texts that changed since the export.")
    tsub = tr.add_subparsers(dest="translations_command", required=True, metavar="ACTION")
    te = tsub.add_parser("export", help="write one language of a library as a PO file")
    te.add_argument("--lang", required=True, help="the language to translate into, e.g. es or pt-BR")
    te.add_argument("path", type=Path, help="library folder or .zip/.tar.gz bundle")
    te.add_argument("out", type=Path, metavar="OUT.po")
    ti = tsub.add_parser("import", help="write the translations of a PO file into a library folder")
    ti.add_argument("path", type=Path, help="library folder")
    ti.add_argument("po", type=Path, metavar="IN.po")

    pr = sub.add_parser("promote", parents=[common], help="widen a staged content version to more groups",
                        description="Give the kiosks of GROUP (without --to: of every group) content version "
                                    "VERSION. Refused, moving nothing, when a group's version is not the one "
                                    "VERSION was built on (its base, or its base's base).")
    pr.add_argument("version", type=int)
    pr.add_argument("--to", metavar="GROUP", default=None, help="only this group (default: every group)")

    r = sub.add_parser("rollback", parents=[common], help="go back to an earlier content version",
                       description="Without --to: publish the guides of an earlier content version again, as a "
                                   "new content version for every group (kiosks of every release follow). With "
                                   "--to GROUP: point that group back at VERSION itself; its kiosks' epoch rises, "
                                   "so they install the lower version.")
    r.add_argument("version", type=int)
    r.add_argument("--to", metavar="GROUP", default=None, help="roll back only this group")
    r.add_argument("--by", default=None)

    grp = sub.add_parser("group", help="list, add rollout groups and move kiosks between them",
                         description="Rollout groups: every kiosk is in exactly one (`default` unless told "
                                     "otherwise), and each group has the content version meant for its kiosks.")
    gsub = grp.add_subparsers(dest="group_command", required=True, metavar="ACTION")
    gsub.add_parser("list", parents=[common], help="groups with their content version and kiosks")
    ga = gsub.add_parser("add", parents=[common], help="add a group (it starts on the default group's version)")
    ga.add_argument("name")
    gm = gsub.add_parser("move", parents=[common], help="move a kiosk into a group",
                         description="Move DEVICE into GROUP: it receives GROUP's content version at its next "
                                     "sync, even when that is lower than what it has (its epoch rises).")
    gm.add_argument("device")
    gm.add_argument("group")
    gg = gsub.add_parser("guard", parents=[common], help="the rollout guard's settings for one group",
                         description="Set the rollout guard for GROUP (server/rollout_guard.py); what is not "
                                     "given stays as it is, --defaults goes back to server.toml's values. "
                                     "Without options: print the group's settings.")
    gg.add_argument("group")
    onoff = gg.add_mutually_exclusive_group()
    onoff.add_argument("--on", dest="guard", action="store_const", const=True, default=None)
    onoff.add_argument("--off", dest="guard", action="store_const", const=False)
    onoff.add_argument("--defaults", action="store_true", help="forget the group's own settings")
    gg.add_argument("--confidence", type=float, default=None, help="e.g. 0.95")
    gg.add_argument("--min-sessions", type=int, default=None, help="sessions a side before it decides")
    gg.add_argument("--min-days", type=float, default=None, help="days a stage runs before it decides")

    gh = gsub.add_parser("hours", parents=[common], help="set a group's opening hours (for the alerts)",
                         description="Set when GROUP's kiosks are open, in the site's time zone (server setting "
                                     "time_zone): '08:00-22:00', 'mon-fri 07:30-20:00; sat 09:00-18:00', "
                                     "'fri,sat 18:00-02:00'. An empty SPEC: always open. A kiosk is stale, or its "
                                     "panel dead, only by the hours it is open (docs/alerts.md).")
    gh.add_argument("group")
    gh.add_argument("spec", nargs="?", default="")

    cmp_ = sub.add_parser("compare", parents=[common], help="did it help? compare two guide versions or groups",
                          description="Compare guide versions A and B of GUIDE (B against A), or with --groups G1 "
                                      "G2 --since DATE the two rollout groups over the same days (G2 against G1): "
                                      "resolution, escalation and walk-away rates, phone handoffs, average rating "
                                      "and walk-aways per step, each with a 95%% interval and a verdict.")
    cmp_.add_argument("guide")
    cmp_.add_argument("versions", type=int, nargs="*", metavar="VERSION", help="A and B")
    cmp_.add_argument("--groups", nargs=2, metavar=("G1", "G2"), default=None)
    cmp_.add_argument("--since", type=datetime.date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                      help="first day to count, on the site's clocks (server setting time_zone); needed with --groups")
    cmp_.add_argument("--until", type=datetime.date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                      help="last day to count, on the site's clocks (default: today)")
    cmp_.add_argument("--json", action="store_true", help="print the comparison as JSON")

    gu = sub.add_parser("guard", parents=[common], help="the rollout guard",
                        description="run: evaluate every open stage now; roll back and record where the minimum "
                                    "is reached (docs/server.md).")
    gu.add_argument("action", choices=["run"])
    gu.add_argument("--json", action="store_true")

    al = sub.add_parser("alerts", parents=[common], help="alerts: send a test, evaluate now, list",
                        description="Alerts (docs/alerts.md). test: send a test alert through every configured "
                                    "channel and say what happened to each. run: one round now (the server also "
                                    "runs one every alert_interval seconds). list: the open alerts.")
    al.add_argument("action", choices=["test", "run", "list"])

    dev = sub.add_parser("device", help="add, list, rotate and revoke kiosks", description="Manage kiosk devices.")
    dsub = dev.add_subparsers(dest="device_command", required=True, metavar="ACTION")
    da = dsub.add_parser("add", parents=[common], help="register a kiosk and print its token once")
    da.add_argument("name", help="device name: letters, digits, '-' or '_'")
    da.add_argument("--location", default=None, help="where the kiosk stands")
    da.add_argument("--group", default=None, help="its rollout group (default: default)")
    dsub.add_parser("list", parents=[common], help="list kiosks and their fleet state")
    dr = dsub.add_parser("revoke", parents=[common], help="revoke a kiosk's token")
    dr.add_argument("name")
    drot = dsub.add_parser("rotate", parents=[common], help="give a kiosk a new token and print it once",
                           description="Replace a kiosk's token: the old token stops working at once, and QR "
                                       "links the kiosk showed with it and no phone opened yet stop working "
                                       "too. Put the new token in the kiosk's config.")
    drot.add_argument("name")

    st = sub.add_parser("staff", help="manage staff logins and their roles",
                        description="Manage staff logins. A role says what a login may do: viewer (the "
                                    "dashboard's pages), editor (also drafts in the studio), publisher (also "
                                    "publish, roll back, promote and move kiosks). docs/studio.md.")
    ssub = st.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    sa_ = ssub.add_parser("add", parents=[common], help="add a staff user, or set their password (and role)")
    sa_.add_argument("username")
    sa_.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    sa_.add_argument("--role", choices=auth.ROLES, default=None,
                     help="what they may do (a new login without it is a publisher; an existing one keeps its role)")
    ssub.add_parser("list", parents=[common], help="every staff login with its role")

    sub.add_parser("key", parents=[common], help="print the server's public key (for the kiosks' server_key)",
                   description="Print the Ed25519 public key that signs manifests (made on first use).")
    sub.add_parser("rotate-link-key", parents=[common], help="rotate the key that signs the phone pages' links",
                   description="Make a new key for the links the phone pages make (/m/...). Links signed with "
                               "the previous key keep working for phone_link_hours (plus an hour of clock "
                               "skew), so phones in the middle of a guide go on. Every server process uses "
                               "the new key at once. A kiosk's QR links are signed with its own key: rotate "
                               "it with `kiosk-server device rotate NAME`. The manifest signing key "
                               "(`kiosk-server key`) cannot be rotated this way: kiosks pin it.")
    cfg = sub.add_parser("config", parents=[common], help="check the server's configuration",
                         description="check: say in plain words what is wrong in server.toml (in the data dir), "
                                     "the environment, the database connection and the signing key.")
    cfg.add_argument("action", choices=["check"])
    return parser


def _config_check(args) -> int:
    findings = config.check(config.data_dir_from(args.data_dir))
    for level, message in findings:
        print(f"{level.upper()}: {message}")
    errors = sum(level == "error" for level, _ in findings)
    print(f"{errors} error(s), {len(findings) - errors} warning(s)." if findings else "The configuration is fine.")
    return 1 if errors else 0


def _settings(args) -> tuple[Path, str]:
    cfg = config.load(args.data_dir, db=args.db)  # defaults < server.toml < KIOSK_SERVER_* < --db
    data_dir, url = cfg.data_dir, cfg.db_url
    if url.startswith("sqlite") or "://" not in url:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return data_dir, url


def _engine(args):
    _, url = _settings(args)
    engine = db.make_engine(url, pool_size=2)
    db.migrate(engine)
    from server import summary

    # as the server does when it starts: the comparison summaries' days are the site's days
    summary.follow_time_zone(engine, config.load(args.data_dir, db=args.db).zone)
    return engine


def _problems(exc: LibraryInvalid) -> None:
    print(f"The library has {len(exc.problems)} problem(s); nothing was published:", file=sys.stderr)
    print(exc.report(), file=sys.stderr)


def _serve(args) -> int:
    import uvicorn

    data_dir, url = _settings(args)
    os.environ.update(config.worker_env(data_dir=data_dir, db=url, stale_after=args.stale_after))
    settings = config.load(data_dir)  # what the workers will read: the address and the trusted proxies
    host = args.host or settings.host
    if warning := config.plain_http_warning(host):
        print(f"warning: {warning}", file=sys.stderr)
    # Make the key and the schema once here, before the workers start and race for them.
    load_or_create_key(data_dir)
    db.migrate(db.make_engine(url, pool_size=1))
    # The HTTP protocol with the server's own bounds on slow and piled-up connections (server.serving).
    uvicorn.run("server.app:create_app", factory=True, host=host, port=args.port, workers=args.workers,
                log_level=args.log_level, server_header=False, http=serving.PROTOCOL,
                # X-Forwarded-For (the client's address) and -Proto only from the trusted proxy: the
                # staff lockout counts per address, so anyone else could claim any address.
                proxy_headers=True, forwarded_allow_ips=settings.trusted_proxies)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return _run(args)
    except (auth.AuthError, config.ConfigError, publish.RolloutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _print_coverage(library) -> None:
    """Each language's share of the library, the default language first (issue 12: what travellers
    of each language will find untranslated). --json lists the missing texts."""
    print("Languages:")
    for cov in library_coverage(library):
        print(f"  {cov.summary()}")


def _print_json(doc: dict) -> None:
    print(json.dumps(doc, ensure_ascii=False, indent=2))


def _run(args) -> int:
    if args.command == "config":
        return _config_check(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "validate":
        try:
            library = publish.validate(args.path)
        except LibraryInvalid as exc:
            if args.json:
                _print_json({"valid": False, "problems": [p.as_dict() for p in exc.problems]})
                return 1
            print(f"The library has {len(exc.problems)} problem(s):", file=sys.stderr)
            print(exc.report(), file=sys.stderr)
            return 1
        if args.json:
            _print_json({"valid": True, "guides": len(library.guides), "images": len(library.images),
                         "languages": [c.as_dict() for c in library_coverage(library)]})
            return 0
        extra = f", {settings_file} ({library.settings.synonym_groups} synonym group(s))" if library.settings else ""
        print(f"Valid: {len(library.guides)} guide(s), {len(library.images)} image(s){extra}")
        _print_coverage(library)
        return 0
    if args.command == "publish":
        try:
            library = publish.validate(args.path)
        except LibraryInvalid as exc:
            if args.json:
                _print_json({"published": False, "problems": [p.as_dict() for p in exc.problems]})
                return 1
            _problems(exc)
            return 1
        result = publish.publish_library(_engine(args), library, by=args.by or getpass.getuser(), note=args.note,
                                         to=args.to)
        if args.json:
            _print_json({"published": True, **result.as_dict(),
                         "languages": [c.as_dict() for c in library_coverage(library)]})
            return 0
        print(result.summary())
        _print_coverage(library)
        return 0
    if args.command == "export":
        from server import export

        try:
            if args.draft is not None:
                return _export_draft(args)
            exported = export.export_version(_engine(args), args.dir, args.version, force=args.force)
        except export.ExportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(exported.summary())
        return 0
    if args.command == "translations":
        return _translations(args)
    if args.command == "promote":
        moved = groups.promote(_engine(args), args.version, to=args.to)
        if not moved:
            print(f"Nothing to do: {'group ' + repr(args.to) + ' is' if args.to else 'every group is'} already "
                  f"on content version {args.version}.")
        for name, before in sorted(moved.items()):
            print(f"Group '{name}' moved from content version {before if before is not None else 'none'} "
                  f"to {args.version}.")
        return 0
    if args.command == "rollback" and args.to is not None:
        before = groups.rollback_group(_engine(args), args.version, args.to)
        print(f"Group '{args.to}' rolled back from content version {before} to {args.version}; its kiosks "
              "install it at their next sync.")
        return 0
    if args.command == "rollback":
        try:
            result = publish.rollback(_engine(args), args.version, by=args.by or getpass.getuser())
        except LibraryInvalid as exc:
            print(f"Cannot roll back to content version {args.version}:\n{exc.report()}", file=sys.stderr)
            return 1
        print(result.summary() + f" (the content of version {args.version})")
        return 0
    if args.command == "group":
        return _group(args)
    if args.command == "compare":
        return _compare(args)
    if args.command == "guard":
        from server import rollout_guard

        cfg = config.load(args.data_dir, db=args.db)
        statuses = rollout_guard.run_once(_engine(args), cfg)
        if args.json:
            print(json.dumps([s.__dict__ for s in statuses], indent=2))
        else:
            for status in statuses:
                print(status.sentence)
            if not statuses:
                print("No staged rollout is open: nothing to decide.")
        return 0
    if args.command == "alerts":
        return _alerts(args)
    if args.command == "device":
        return _device(args)
    if args.command == "staff" and args.staff_command == "list":
        for username, role, created in auth.list_staff(_engine(args)):
            print(f"{username}\t{role}\tadded {_when(created)}")
        return 0
    if args.command == "staff":
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = getpass.getpass(f"Password for {args.username}: ")
            if getpass.getpass("Again: ") != password:
                print("error: the passwords differ", file=sys.stderr)
                return 2
        engine = _engine(args)
        created = auth.set_staff_password(engine, args.username, password, role=args.role)
        role = auth.staff_role(engine, args.username)
        print(f"Staff user '{args.username}' {'added' if created else 'password changed'} ({role}).")
        return 0
    if args.command == "rotate-link-key":
        from server import link_keys

        engine = _engine(args)
        link_keys.rotate(engine)
        hours = config.load(args.data_dir, db=args.db).phone_link_hours + 1
        print(f"The phone pages' link key was rotated. The previous key still verifies links for {hours:g} hours; "
              "every server process signs with the new one from now on.")
        return 0
    if args.command == "key":
        data_dir, _ = _settings(args)
        print(public_key_b64(load_or_create_key(data_dir)))
        return 0
    return 2


def _translations(args) -> int:
    from server import translation_files as tf

    try:
        if args.translations_command == "export":
            catalog = tf.export_po(publish.validate(args.path), args.lang, args.out)
            todo = sum(1 for m in catalog if m.id and not m.string)
            print(f"Wrote {args.out}: {len(catalog)} text(s) to translate into {args.lang}, {todo} not yet "
                  "translated.")
            return 0
        result = tf.import_po(args.path, args.po)
    except LibraryInvalid as exc:
        print(f"The library has {len(exc.problems)} problem(s); nothing was written:", file=sys.stderr)
        print(exc.report(), file=sys.stderr)
        return 1
    except tf.TranslationFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    for cov in library_coverage(publish.validate(args.path)):
        if cov.lang == result.lang:
            print(cov.summary())
    return 0


def _export_draft(args) -> int:
    """`export --draft ID DIR`: the draft's library through server.export's one folder writer."""
    from server import drafts, export

    engine = _engine(args)
    try:
        with db.read(engine) as conn:
            draft = drafts.get(conn, args.draft)
            documents, problems = drafts.export_documents(conn, draft)
            settings = drafts.settings_of(conn, draft).to_dict()
    except drafts.DraftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    exported = export.export_documents(engine, args.dir, documents, settings=settings, force=args.force,
                                       check=not problems)
    if problems:
        print(f"Wrote draft {args.draft} to {exported.written.folder} as it is; it has {len(problems)} problem(s) "
              "and would not publish:", file=sys.stderr)
        print(LibraryInvalid(problems).report(), file=sys.stderr)
        return 1
    print(exported.summary().replace("the guides", f"draft {args.draft} ({draft.name})"))
    return 0


def _device(args) -> int:

    engine = _engine(args)
    if args.device_command == "add":
        token = auth.add_device(engine, args.name, args.location, args.group or db.DEFAULT_GROUP)
        print(f"Device '{args.name}' added. Its token (shown only now; put it in the kiosk's config):")
        print(token)
        return 0
    if args.device_command == "rotate":
        token = auth.rotate_device(engine, args.name)
        if token is None:
            print(f"error: no active device called '{args.name}'", file=sys.stderr)
            return 1
        print(f"Device '{args.name}' has a new token; the old one no longer works. The new token (shown only "
              "now; put it in the kiosk's config):")
        print(token)
        return 0
    if args.device_command == "revoke":
        if not auth.revoke_device(engine, args.name):
            print(f"error: no active device called '{args.name}'", file=sys.stderr)
            return 1
        print(f"Device '{args.name}' revoked; its token no longer works.")
        return 0
    with db.read(engine) as conn:
        rows = conn.execute(sa.select(db.devices).order_by(db.devices.c.name)).mappings().all()
    if not rows:
        print("No devices yet: add one with `kiosk-server device add NAME`.")
        return 0
    print(f"{'NAME':<20} {'GROUP':<12} {'LOCATION':<24} {'LAST SEEN':<21} {'CONTENT':<8} {'OUTBOX':>6}  STATUS")
    for row in rows:
        status = "revoked" if row["revoked_at"] else "active"
        print(f"{row['name']:<20} {row['rollout_group']:<12} {(row['location'] or '')[:24]:<24} "
              f"{_when(row['last_seen']):<21} "
              f"{(row['content_version'] or '-'):<8} {row['outbox_depth'] if row['outbox_depth'] is not None else '-':>6}"
              f"  {status}")
    return 0


def _compare(args) -> int:
    from server import compare

    cfg = config.load(args.data_dir, db=args.db)
    effects = compare.Effects.of(cfg)
    engine = _engine(args)
    with db.read(engine) as conn:
        if args.groups:
            if args.versions or args.since is None:
                print("error: --groups G1 G2 takes --since DATE and no versions", file=sys.stderr)
                return 2
            result = compare.compare_groups(conn, args.guide, *args.groups, since=args.since, until=args.until,
                                            effects=effects)
        else:
            if len(args.versions) != 2:
                print("error: give two versions, A and B (or --groups G1 G2 --since DATE)", file=sys.stderr)
                return 2
            result = compare.compare_versions(conn, args.guide, *args.versions, effects=effects, since=args.since,
                                              until=args.until)
    if result.a.sessions + result.b.sessions == 0:
        print(f"error: no sessions of guide '{args.guide}' on either side", file=sys.stderr)
        return 1
    print(json.dumps(result.as_dict(), indent=2) if args.json else compare.text_report(result, cfg.time_zone))
    return 0


def _alerts(args) -> int:
    import time

    import sqlalchemy as sa

    from server.alerts import delivery, evaluator
    from server.alerts.sources import KIND_TITLES

    cfg = config.load(args.data_dir, db=args.db)
    if args.action == "test":
        if not delivery.channels(cfg):
            print("No alert channel is configured: set smtp_host (with alert_from and alert_to) or webhook_url in "
                  f"{cfg.data_dir / config.CONFIG_NAME}. Alerts still show on the dashboard's Alerts page.")
            return 1
        when = datetime.datetime.now(cfg.zone).strftime("%Y-%m-%d %H:%M %Z")
        message = delivery.Message(event="test", kind="test", title=KIND_TITLES["test"], subject="kiosk-server",
                                   sentence="This is a test alert from `kiosk-server alerts test`; nothing is wrong.",
                                   link=delivery.full_link(cfg, "/dashboard/alerts"), at=when)
        results = delivery.send(cfg, message)
        for channel, what in results.items():
            print(f"{channel}: {what}")
        return 0 if all(r.startswith("sent") for r in results.values()) else 1
    engine = _engine(args)
    if args.action == "run":
        done = evaluator.run_round(engine, cfg)
        print(f"{len(done.opened)} alert(s) opened, {len(done.resolved)} resolved, {len(done.sent)} message(s) "
              "sent." + (f" Sources that failed (see the log): {', '.join(done.failed_sources)}."
                         if done.failed_sources else ""))
        for alert_id, results in done.sent.items():
            for channel, what in results.items():
                print(f"  alert {alert_id} {channel}: {what}")
        return 1 if done.failed_sources else 0
    al = db.alerts
    with db.read(engine) as conn:
        rows = conn.execute(sa.select(al).where(al.c.resolved_at.is_(None)).order_by(al.c.opened_at)).all()
    if not rows:
        print("No open alerts.")
    for row in rows:
        snoozed = " (snoozed)" if row.snoozed_until and row.snoozed_until > time.time() else ""
        opened = datetime.datetime.fromtimestamp(row.opened_at, cfg.zone).strftime("%Y-%m-%d %H:%M")
        print(f"{opened}  {KIND_TITLES.get(row.kind, row.kind)}{snoozed}: {row.sentence}")
    return 0


def _group(args) -> int:
    engine = _engine(args)
    if args.group_command == "guard":
        from server import rollout_guard

        if args.defaults or any(v is not None for v in (args.guard, args.confidence, args.min_sessions,
                                                         args.min_days)):
            rollout_guard.set_group_settings(engine, args.group, clear=args.defaults, guard=args.guard,
                                             guard_confidence=args.confidence,
                                             guard_min_sessions=args.min_sessions, guard_min_days=args.min_days)
        with db.read(engine) as conn:
            row = conn.execute(sa.select(db.rollout_groups).where(db.rollout_groups.c.name == args.group)).first()
        if row is None:
            print(f"error: there is no group '{args.group}'", file=sys.stderr)
            return 1
        s = rollout_guard.settings_for(row, config.load(args.data_dir, db=args.db))
        print(f"Group '{args.group}': guard {'on' if s.enabled else 'off'}, decides at {s.min_sessions} sessions a "
              f"side and {s.min_days:g} days, rolls back when worse with {100 * s.confidence:g}% confidence.")
        return 0
    if args.group_command == "hours":
        groups.set_opening_hours(engine, args.group, args.spec)
        print(f"Group '{args.group}' is open {args.spec.strip() or 'always'} "
              f"({config.load(args.data_dir, db=args.db).time_zone} time).")
        return 0
    if args.group_command == "add":
        version = groups.add_group(engine, args.name)
        print(f"Group '{args.name}' added, on content version {version if version is not None else 'none'} "
              "(the default group's).")
        return 0
    if args.group_command == "move":
        left, epoch = groups.move_device(engine, args.device, args.group)
        if left == args.group:
            print(f"Device '{args.device}' is already in group '{args.group}'.")
        else:
            print(f"Device '{args.device}' moved from group '{left}' to '{args.group}' (epoch {epoch}); it "
                  "receives the group's content version at its next sync.")
        return 0
    with db.read(engine) as conn:
        rows = groups.list_groups(conn)
    print(f"{'GROUP':<20} {'CONTENT':<12} {'KIOSKS':>6}  {'CHANGED':<21} OPEN")
    for g in rows:
        version = f"{g.content_version}{' (staged)' if g.staged else ''}" if g.content_version else "none"
        print(f"{g.name:<20} {version:<12} {g.devices:>6}  {_when(g.changed_at):<21} {g.opening_hours or 'always'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
