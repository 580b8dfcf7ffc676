#!/usr/bin/env bash
# Courier IMAP for the tests, without installing it: its Debian packages conflict with
# dovecot-imapd, so they are downloaded and unpacked with `dpkg -x` into DIR (default
# target/courier/root). tests/support/courier.rs runs authdaemond + couriertcpd/imapd from there,
# inside a private mount namespace where Courier's compiled-in paths (/etc/courier,
# /run/courier, /usr/lib/courier-authlib, gamin's /usr/libexec) are bound to the test's own
# directories.
# Needs root (as tests/run.sh). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-$PWD/target/courier}"
# gamin's gam_server too, as the packages depend on it: without it every login and SELECT
# waits about a second for a file-alteration monitor that never comes.
[ -f "$dir/.complete" ] && [ -x "$dir/root/usr/libexec/gam_server" ] && exit 0
pkgs=(courier-imap courier-base courier-authlib courier-authlib-userdb courier-authdaemon
      libcourier-unicode4 libgamin0 gamin libidn12 libltdl7 libpcre3)
rm -rf "$dir"
mkdir -p "$dir/debs" "$dir/root"
if ! (cd "$dir/debs" && apt-get download "${pkgs[@]}" >/dev/null 2>&1); then
    apt-get update -qq
    (cd "$dir/debs" && apt-get download "${pkgs[@]}" >/dev/null)
fi
for deb in "$dir"/debs/*.deb; do
    dpkg -x "$deb" "$dir/root"
done
# couriertls (STARTTLS) drops to the `courier` user, as the package's postinst would create it.
getent passwd courier >/dev/null ||
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin courier
# Empty mount points for the compiled-in paths; the tests bind their own directories over them.
mkdir -p /etc/courier /run/courier /usr/lib/courier-authlib /usr/libexec
touch "$dir/.complete"
