#!/bin/sh
# Installs a Debian package when the command it provides is missing, and says so; does nothing
# (and prints nothing) when it is there. Services a package would start are not started
# (policy-rc.d, as Debian's container images do it): the tests start their own, on their own
# ports, and never stop or change one the user runs.
#   scripts/apt-install.sh PACKAGE COMMAND WHY
set -eu
package=$1 command=$2 why=$3
command -v "$command" >/dev/null 2>&1 && exit 0
echo "installing the Debian package $package ($why)" >&2
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
log=${TMPDIR:-/tmp}/regprune-apt.log
policy=/usr/sbin/policy-rc.d
ours=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  ours=1
fi
status=0
{ $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$package"; } >"$log" 2>&1 || status=$?
[ -z "$ours" ] || $sudo rm -f "$policy"
if [ "$status" -ne 0 ]; then
  echo "apt-get install $package failed (exit $status); its output:" >&2
  tail -20 "$log" >&2
  exit "$status"
fi
