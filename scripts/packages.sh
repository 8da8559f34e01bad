# Sourced by ./run and ./test: install the Debian packages that are missing.
#
# wk_need_packages PKG...   installs what is missing with apt-get when root;
#                           otherwise names the packages and exits 1.

wk_need_packages() {
    local missing=() pkg status
    for pkg in "$@"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        [ "$status" = "install ok installed" ] || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "wellknown needs these Debian packages, which are not installed:" >&2
        echo "    sudo apt-get install ${missing[*]}" >&2
        echo "Install them (or run this command as root) and try again." >&2
        exit 1
    fi
    echo "Installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null || apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# What building needs.
WK_BUILD_PACKAGES=(gcc libc6-dev make cmake pkg-config libssl-dev node-llhttp)
# What the tests need besides.
# chromium (and a font for it) drives the socket view in a headless browser test; groff and
# man check that the manual pages render.
WK_TEST_PACKAGES=(libcmocka-dev python3 curl iproute2 procps swaks openssl chromium fonts-dejavu-core
    groff-base man-db)
# What building and running docker/ with Podman needs (scripts/container.sh): no Docker
# engine nor registry is required, debootstrap makes the Debian base images.
WK_CONTAINER_PACKAGES=(podman buildah runc fuse-overlayfs slirp4netns uidmap debootstrap
                       podman-compose containernetworking-plugins iptables)

# wk_build DIR [CMAKE ARGS...]: configure (once) and build into DIR.
wk_build() {
    local dir=$1
    shift
    cmake -S "$WK_ROOT" -B "$dir" "$@" >/dev/null || cmake -S "$WK_ROOT" -B "$dir" "$@"
    cmake --build "$dir" -j "$(nproc)"
}
