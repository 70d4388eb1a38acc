#!/usr/bin/env bash
# Installs what ventral needs on a Debian/Ubuntu machine without a GPU driver: Mesa's lavapipe
# (software Vulkan) and llvmpipe (OpenGL through EGL). Machines with a real GPU driver need nothing.
set -euo pipefail
need=()
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
ldconfig -p | grep -q libEGL_mesa || need+=(libegl1 libegl-mesa0 libgl1-mesa-dri)
if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${need[@]}"
fi
