#!/usr/bin/env bash
# Installs the system libraries the optional extras load at run time, when missing and running as root:
# libusb-1.0 for pyrealsense2, EGL + Mesa for MuJoCo's headless rendering.
set -euo pipefail
need=()
have() { ldconfig -p 2>/dev/null | grep -q "$1"; }
have 'libusb-1.0.so.0' || need+=(libusb-1.0-0)
have 'libEGL.so.1' || need+=(libegl1)
have 'libEGL_mesa.so.0' || need+=(libegl-mesa0)
have 'libGL.so.1' || need+=(libgl1)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages: ${need[*]} (install them with: sudo apt-get install ${need[*]})" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
