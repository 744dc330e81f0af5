# Shared by scripts/run and scripts/test. VENV may be set to use another virtualenv.
VENV=${SIGNPOST_VENV:-.venv}

find_python() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      echo "$candidate"; return 0
    fi
  done
  echo "Signpost needs Python 3.11 (python3.11 on PATH)." >&2
  return 1
}

# ensure_venv [extra]: create the virtualenv if needed and install the locked dependencies.
ensure_venv() {
  local extra=${1:-}
  if [ ! -x "$VENV/bin/python" ]; then
    "$(find_python)" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip 2> >(grep -v "WARNING: Location 'file://" >&2)
  fi
  local spec="."
  [ -n "$extra" ] && spec=".[${extra}]"
  # This machine's pip config names local mirrors that may be absent: drop that noise only.
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt -e "$spec" \
    2> >(grep -v -e "WARNING: Location 'file://" -e "BuildBackendWarning" -e "^ *!!" -e "^ *\\*\\*\\*" -e "^ *$" \
         -e "Please be careful with folders" -e "name as your package" -e "with strategy, WheelFile" >&2)
}

# Browser tests drive Debian's Chromium; install it when we can (root + apt).
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's chromium for the browser tests..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Browser tests need /usr/bin/chromium (apt-get install chromium)." >&2
    return 1
  fi
}

# port_is_free PORT: nothing is listening on 127.0.0.1:PORT (checked with Python, which every setup has).
port_is_free() {
  "$(find_python)" - "$1" <<'PY'
import socket, sys
with socket.socket() as probe:
    probe.settimeout(1)
    sys.exit(1 if probe.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 0)
PY
}
