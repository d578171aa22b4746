#!/usr/bin/env bash
# Install the system packages that the real-server tests and benchmarks need:
#   dovecot-imapd (IMAP), postgresql, chromium + chromium-driver (headless browser),
#   wordpress + mariadb-server + php-cli + php-mysql (a real CMS for the publishing tests).
# Idempotent: installs only what `dpkg -s` reports missing and runs `apt-get update` only
# then. Non-interactive. Run as root, or as a user with sudo.
#
# The tests start their own Dovecot, PostgreSQL, MariaDB and PHP web server on free
# loopback ports with throwaway configs, so the system-wide daemons that these packages
# ship are not wanted: they are kept from starting during the install (policy-rc.d) and
# stopped/disabled if running.
set -euo pipefail

PACKAGES=(dovecot-imapd postgresql chromium chromium-driver
    wordpress mariadb-server php-cli php-mysql)
DAEMONS=(dovecot postgresql mariadb apache2)

if [[ ${EUID} -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "install-system-deps.sh: run as root or install sudo" >&2
    exit 1
fi

is_installed() {
    dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! is_installed "${pkg}"; then
        missing+=("${pkg}")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "System packages already installed: ${PACKAGES[*]}"
    exit 0
fi

echo "Installing: ${missing[*]}"

# Keep maintainer scripts from starting system-wide daemons (exit 101 = "not allowed").
POLICY=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e ${POLICY} ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "${POLICY}" >/dev/null
    "${SUDO[@]}" chmod 755 "${POLICY}"
    added_policy=1
fi
remove_policy() {
    if [[ ${added_policy} -eq 1 ]]; then
        "${SUDO[@]}" rm -f "${POLICY}"
    fi
}
trap remove_policy EXIT

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"

# If a system-wide daemon runs anyway (e.g. systemd ignored policy-rc.d), stop and disable
# it: it is not used, and a stopped one cannot hold ports or files that ours need.
for daemon in "${DAEMONS[@]}"; do
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        "${SUDO[@]}" systemctl disable --now "${daemon}" >/dev/null 2>&1 || true
    elif command -v service >/dev/null 2>&1; then
        "${SUDO[@]}" service "${daemon}" stop >/dev/null 2>&1 || true
    fi
done

for pkg in "${PACKAGES[@]}"; do
    if ! is_installed "${pkg}"; then
        echo "install-system-deps.sh: ${pkg} is still not installed" >&2
        exit 1
    fi
done
echo "System packages installed: ${PACKAGES[*]}"
