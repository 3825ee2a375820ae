#!/usr/bin/env bash
# Installs whatever is missing, on a fresh Debian machine that has the Rust toolchain.
#   scripts/setup.sh wasm      the wasm toolchain: target, wasm-bindgen-cli, wasm-pack, wasm-opt
#   scripts/setup.sh test      the above, plus Chromium, ChromeDriver, Node.js (20.19 or later) and
#                              npm 11
#   scripts/setup.sh bench     the above, plus wrk, hyperfine and Python's venv
# Nothing downloads its own binaries or browsers: this machine reaches only package registries.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-test}

apt_packages=(binaryen)
if [ "$what" != wasm ]; then
  apt_packages+=(chromium chromium-driver curl)
  # The Redis store's tests and benchmarks run against a real redis-server.
  apt_packages+=(redis-server)
  # Any Node.js with npm will do, from Debian or elsewhere.
  command -v npm >/dev/null || apt_packages+=(nodejs npm)
fi
[ "$what" = bench ] && apt_packages+=(wrk hyperfine python3-venv procps)
missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: apt-get install ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# wasm-bindgen's CLI must match the library version in Cargo.lock exactly.
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $version" ]; then
  echo "setup: cargo install wasm-bindgen-cli $version"
  cargo install --locked wasm-bindgen-cli --version "$version"
fi
command -v wasm-pack >/dev/null || { echo "setup: cargo install wasm-pack"; cargo install wasm-pack; }

if [ "$what" != wasm ]; then
  # The npm package's tests run Vite 8, which needs Node.js 20.19 or later (Debian 12's nodejs is
  # 18), and npm 11, which installs the platform's optional native packages from a lock file.
  if ! node -e 'const [major, minor] = process.versions.node.split(".").map(Number);
      process.exit(major > 20 || (major === 20 && minor >= 19) ? 0 : 1)'; then
    echo "setup: Node.js $(node --version) is too old: the tests need 20.19 or later (Vite 8)." \
      "Install Node.js 20 or 22 (NodeSource's, or Debian 13's nodejs) and run again." >&2
    exit 1
  fi
  if (($(npm --version | cut -d. -f1) < 11)); then
    echo "setup: npm install -g npm@11.19.1"
    npm install -g --no-audit --no-fund npm@11.19.1
  fi
fi
