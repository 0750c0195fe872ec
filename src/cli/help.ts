import { MIN_KEY_LENGTH } from '../events/pseudonymiser.js';
import { ADMIN_TOKEN_ENV, MIN_TOKEN_LENGTH } from '../http/auth.js';
import { MIN_SECRET_LENGTH, RADIUS_SECRET_ENV } from '../radius/shared-secret.js';

/** Each command's synopsis (printed after a usage error) and its full help (`wachtpost help COMMAND`, `COMMAND --help`). */
export const COMMAND_HELP = {
  serve: {
    usage: `usage: wachtpost serve [--config FILE] [--listen HOST:PORT]... [--upstream HOST[:PORT]]...
                       [--http HOST:PORT] [--mode monitor|enforce] [--workers N]
                       [--dot HOST:PORT]... [--doh HOST:PORT]... [--tls-cert FILE --tls-key FILE]
                       [--dnstap unix:PATH|tcp:HOST:PORT] [--log-format auto|json|pretty]
                       [--radius-acct HOST:PORT]`,
    text: `Runs the resolver: DNS on every listen address (UDP and TCP), and the dashboard, live
feed, API, /health, /ready and /metrics on the HTTP address. Flags override the
configuration file, which overrides the built-in defaults.

  -c, --config FILE          YAML configuration (wachtpost schema prints its JSON Schema)
      --listen HOST:PORT     serve DNS here; repeatable (default 127.0.0.1:5353)
      --upstream HOST[:PORT] forward to this resolver; repeatable (default: /etc/resolv.conf)
      --http HOST:PORT       HTTP address (default 127.0.0.1:8080)
      --mode MODE            monitor (tag only) or enforce (also block)
      --workers N            DNS worker processes; 0 = one per CPU core
      --dot HOST:PORT        serve DNS over TLS here (RFC 7858); repeatable
      --doh HOST:PORT        serve DNS over HTTPS here (RFC 8484, /dns-query); repeatable
      --tls-cert FILE        PEM certificate chain for DoT and DoH (reloaded on change)
      --tls-key FILE         its PEM private key
      --dnstap TARGET        send dnstap messages to unix:PATH or tcp:HOST:PORT
      --log-format FORMAT    auto (pretty on a terminal, JSON otherwise), json or pretty
      --radius-acct HOST:PORT
                             receive RADIUS accounting from the VPN concentrator here, to
                             know which device holds which VPN address
  -h, --help                 this text

Environment: ${ADMIN_TOKEN_ENV} adds an admin token (at least ${MIN_TOKEN_LENGTH} characters);
WACHTPOST_PSEUDONYM_KEY holds the pseudonym key (at least ${MIN_KEY_LENGTH} characters) when
privacy.pseudonymise is on; ${RADIUS_SECRET_ENV} the RADIUS shared secret (at least
${MIN_SECRET_LENGTH} characters) unless identity.radius.secret_file names a file. Exit status: 0 after a clean stop (SIGTERM, SIGINT), 1 when it
cannot start (the reason in one line on standard error), 2 for a usage error.`,
  },
  'check-config': {
    usage: 'usage: wachtpost check-config FILE [--json]',
    text: `Validates a configuration file and everything it names (catalogue, watch list, GeoIP
databases, policy), then prints the effective configuration with secrets redacted, as
YAML or with --json as JSON. Problems are listed as FILE:LINE: field: message.

      --json     print JSON instead of YAML
  -h, --help     this text

Exit status: 0 valid (warnings, e.g. expired exemptions, on standard error), 1 invalid,
2 unreadable file or usage error.`,
  },
  explain: {
    usage: 'usage: wachtpost explain NAME [--config FILE] [--client IP] [--resolve] [--upstream HOST[:PORT]]... [--json]',
    text: `Tells what Wachtpost would do with a query for NAME: the catalogue rule that matches,
the app and its owner, the client's group and the decision with its reason.

  -c, --config FILE          the configuration to judge by (default: built-in defaults)
      --client IP            the asking client, for its group (default 0.0.0.0)
      --resolve              also resolve NAME upstream, so CNAMEs and hosting count
      --upstream HOST[:PORT] resolver to ask with --resolve; repeatable
      --json                 print JSON
  -h, --help                 this text`,
  },
  schema: {
    usage: 'usage: wachtpost schema',
    text: `Prints the JSON Schema of the configuration file (also deploy/wachtpost.schema.json), for
editors with a YAML language server and for CI checks.

  -h, --help     this text`,
  },
  catalogue: {
    usage: `usage: wachtpost catalogue stats [--config FILE] [--json]
       wachtpost catalogue bundle --key PRIVATE.pem [--dir DIR] -o FILE
       wachtpost catalogue verify FILE [--config FILE]
       wachtpost catalogue install FILE [--config FILE] [--allow-downgrade]
       wachtpost catalogue import --app ID --owner-country CC [--name NAME] [--owner OWNER]
                                  [--category CAT] [--source TEXT] [--dry-run] [--config FILE] FILE...
       wachtpost catalogue export --rpz [--zone NAME] [--all] [--config FILE] [-o FILE]`,
    text: `Looks at, exchanges and extends the app catalogue.

  stats     apps, rules and owners per owner country, and the release in use
  bundle    sign a catalogue directory laid out as geo/ into one bundle (publishers)
  verify    check a bundle's signature against detection.catalogue_keys and its content
  install   verify, then put the bundle where detection.catalogue names it; a running
            server reloads it; an older release needs --allow-downgrade
  import    hosts files, domain lists, AdGuard ||name^ rules or RPZ zones into the local
            rules file (detection.local_rules), for app ID; one bad line refuses all
  export    the catalogue as an RPZ zone for Unbound, BIND, Knot Resolver or PowerDNS
  -h, --help     this text

Exit status: 0 done, 1 refused (the reason in one line), 2 for a usage error.`,
  },
  profile: {
    usage: `usage: wachtpost profile apple|android --server NAME
                         (--device ID | --device-variable VARIABLE | --csv FILE --out DIR)
                         [--dot] [--organisation TEXT] [--address IP]... [-o FILE]`,
    text: `Writes what a managed phone needs to use Wachtpost over encrypted DNS as device ID, for the
MDM to deploy (see the README, "Managed phones off the VPN").

  apple     a .mobileconfig with a com.apple.dnsSettings.managed payload: DNS over HTTPS
            to https://NAME/dns-query/ID (or, with --dot, DNS over TLS to ID.NAME); the
            same device and server always give the same PayloadUUIDs
  android   the Android Management API policy fragment that sets Private DNS to ID.NAME
            (deviceConnectivityManagement.privateDnsSettings), with that hostname

      --server NAME          the service's name (encrypted.server_name), e.g. dns.example.nl
      --device ID            the device id: 1-63 letters, digits or inner hyphens
      --device-variable VAR  apple: one profile for every device, with the MDM's per-device
                             variable where the id goes ({{serialnumber}} in Intune,
                             {DeviceSerialNumber} in Workspace ONE)
      --csv FILE             one profile per row of an MDM export (CSV with a header row)
      --column NAME          the CSV column holding the device id (default: device)
      --out DIR              where --csv writes ID.mobileconfig or ID.json (created if needed)
      --dot                  apple: DNS over TLS instead of HTTPS
      --organisation TEXT    apple: the organisation the profile names (default: the server)
      --address IP           apple: the server's address, so the phone need not look it up;
                             repeatable
  -o, --output FILE          write one profile to FILE instead of standard output
  -h, --help                 this text

A wrong flag or value is one line and exit code 2. CSV rows without a usable device id, or
a device twice, are each reported as FILE:LINE; nothing is written then, and the exit code
is 1, as for a file that cannot be read or written.`,
  },
  token: {
    usage: 'usage: wachtpost token NAME [analyst|admin]',
    text: `Makes an API token for NAME with the role analyst (default) or admin. Prints the token
once, for its holder, and the api.tokens entry with its SHA-256 for the configuration; the
token itself is stored nowhere.

  -h, --help     this text`,
  },
  version: {
    usage: 'usage: wachtpost version',
    text: `Prints the version (also: wachtpost --version).

  -h, --help     this text`,
  },
} as const;

export type Command = keyof typeof COMMAND_HELP;

export function isCommand(name: string): name is Command {
  return Object.hasOwn(COMMAND_HELP, name);
}

/** The overview: every command's synopsis. */
export const OVERVIEW = `wachtpost: DNS resolver and egress monitor for government work phones

usage:
  wachtpost serve [--config FILE] [flags]   run the resolver
  wachtpost check-config FILE [--json]       validate a configuration
  wachtpost explain NAME [--config FILE] [--client IP] [--resolve] [--json]
                                            what would happen to a query for NAME
  wachtpost schema                          print the configuration's JSON Schema
  wachtpost catalogue SUBCOMMAND            catalogue stats, signed bundles, import, export
  wachtpost profile apple|android --server NAME --device ID
                                            a phone's encrypted-DNS profile for the MDM
  wachtpost token NAME [analyst|admin]      make an API token
  wachtpost version                         print the version (also --version)
  wachtpost help [COMMAND]                  this overview, or one command's flags
`;

/** The full help of one command. */
export function commandHelp(command: Command): string {
  const { usage, text } = COMMAND_HELP[command];
  return `${usage}\n\n${text}\n`;
}
