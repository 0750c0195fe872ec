#!/bin/sh
# OpenVPN client-connect / client-disconnect script: tells Wachtpost which client certificate
# (common name) holds which pool address, as RADIUS accounting Start and Stop sent with
# Debian's radclient (freeradius-utils). The secret is read from a file, so it never shows in
# the process list.
#   script-security 2
#   client-connect    /etc/openvpn/wachtpost-acct.sh
#   client-disconnect /etc/openvpn/wachtpost-acct.sh
# WACHTPOST_ACCT (HOST:PORT) and WACHTPOST_SECRET_FILE may be set with setenv in the server
# configuration; the defaults below are examples.
set -eu
server="${WACHTPOST_ACCT:-10.64.0.53:1813}"
secret_file="${WACHTPOST_SECRET_FILE:-/etc/openvpn/wachtpost-radius.secret}"
case "${script_type:-}" in
  client-connect) status=Start ;;
  client-disconnect) status=Stop ;;
  *) echo "wachtpost-acct.sh: run me as client-connect or client-disconnect" >&2; exit 1 ;;
esac
# time_unix is the connection's start, the same at connect and disconnect: one session id.
printf 'Acct-Status-Type = %s\nUser-Name = "%s"\nFramed-IP-Address = %s\nAcct-Session-Id = "%s-%s"\n' \
  "$status" "$common_name" "$ifconfig_pool_remote_ip" "$common_name" "$time_unix" |
  radclient -r 3 -t 2 -S "$secret_file" "$server" acct >/dev/null ||
  echo "wachtpost-acct.sh: no answer from $server for $common_name ($status)" >&2
# A lost Stop must not refuse the client: the session expires in Wachtpost instead.
exit 0
