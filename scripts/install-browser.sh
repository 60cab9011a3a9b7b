#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver, which the dashboard's browser tests and
# scripts/screenshots.sh drive over WebDriver. Quick when both are present.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  echo "chromium and chromedriver present"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver
chromium --version
chromedriver --version
