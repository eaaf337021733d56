#!/bin/sh
# Adds usannotator to the applications menu, pointing at this folder (keep the folder where it is):
# writes a copy of usannotator.desktop (a template) with this folder's path in place of @BUNDLE@.
#
#   ./install-desktop-entry.sh              for the current user (~/.local/share/applications)
#   sudo ./install-desktop-entry.sh --system  for every user (/usr/share/applications, and
#                                             /usr/local/bin/usannotator for the command line)
#   ./install-desktop-entry.sh --uninstall [--system]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
system=0; uninstall=0
for arg in "$@"; do
  case "$arg" in
    --system) system=1 ;;
    --uninstall) uninstall=1 ;;
    *) echo "usage: $0 [--system] [--uninstall]" >&2; exit 2 ;;
  esac
done
if [ "$system" = 1 ]; then
  apps=/usr/share/applications
else
  apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
fi
entry="$apps/usannotator.desktop"
if [ "$uninstall" = 1 ]; then
  rm -f "$entry"
  if [ "$system" = 1 ] && [ -L /usr/local/bin/usannotator ]; then rm -f /usr/local/bin/usannotator; fi
  echo "removed $entry"
  exit 0
fi
[ -x "$here/usannotator" ] || { echo "$here/usannotator not found: run this script from the unpacked folder" >&2; exit 1; }
mkdir -p "$apps"
# '\' and '"' in the path would need escaping in Exec=; refuse rather than write a broken entry.
case "$here" in *\"*|*\\*|*\$*|*\`*) echo "the folder path contains \" \\ \$ or \`: move it" >&2; exit 1 ;; esac
sed "s|@BUNDLE@|$here|g" "$here/usannotator.desktop" > "$entry.tmp"
chmod 644 "$entry.tmp"
mv "$entry.tmp" "$entry"
if [ "$system" = 1 ]; then ln -sf "$here/usannotator" /usr/local/bin/usannotator; fi
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$apps" 2>/dev/null || true
echo "installed $entry (starts $here/usannotator)"
