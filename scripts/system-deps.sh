#!/usr/bin/env bash
# Debian packages refurb needs: python3-venv (to make .venv), libzbar0 (zbar, the second barcode engine),
# postgresql-client (pg_dump for `refurb db backup`) and the wiping tools `refurb wipe run` drives: nwipe
# (overwrite profiles; tested for real on loop devices), hdparm (ATA sanitize, HPA/DCO and frozen checks),
# smartmontools (drive serials) and nvme-cli (NVMe sanitize); fonts-dejavu-core (certificates print every
# European name: reportlab's own Vera font lacks letters such as Ż); cups and printer-driver-cups-pdf (labels
# print through lp; tested on a cups-pdf queue).
# Installed only when missing, and only when we are root or may sudo without a password.
set -u
missing=()
python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
for pkg in libzbar0 postgresql-client nwipe hdparm smartmontools nvme-cli fonts-dejavu-core cups printer-driver-cups-pdf; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "refurb: please install these Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
  exit 0
fi
echo "refurb: installing ${missing[*]}"
$SUDO apt-get update -qq >/dev/null || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null \
  || echo "refurb: could not install ${missing[*]}; continuing without" >&2
