# Makes Podman ready to build and run docker/ on a Debian 12 machine that has no Docker
# engine and reaches no container registry, only Debian's package mirror.
#
# Sourced:   . scripts/container.sh && wk_container_setup [DIR]
# Executed:  eval "$(scripts/container.sh [DIR])"   (prints the export lines instead)
#
# wk_container_setup [DIR]
#   - installs WK_CONTAINER_PACKAGES (scripts/packages.sh) that are missing;
#   - writes DIR/containers.conf (runc, since crun refuses mixed cgroup v1/v2 hosts, and
#     open-file limits the kernel accepts) and exports CONTAINERS_CONF naming it;
#   - exports BUILDAH_FORMAT=docker: the OCI image format has no HEALTHCHECK;
#   - unless Podman has them already, makes the Debian 12 base images with debootstrap and
#     imports them under the names a registry would give them, docker.io/library/debian:12
#     and docker.io/library/debian:12-slim, so that docker/Dockerfile's FROM lines resolve
#     locally, unchanged.
#   DIR (default: build/container) holds the settings and, while importing, the root trees.
#   Needs root. Returns 0 when ready; a second call takes well under a second.
#   WK_DEBIAN_MIRROR overrides the mirror debootstrap uses.

WK_ROOT=${WK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
declare -F wk_need_packages >/dev/null || . "$WK_ROOT/scripts/packages.sh"

WK_BASE_IMAGE=docker.io/library/debian:12
WK_BASE_SLIM_IMAGE=docker.io/library/debian:12-slim

wk_container_setup() {
    local dir=${1:-$WK_ROOT/build/container}
    if [ "$(id -u)" -ne 0 ]; then
        echo "scripts/container.sh sets Podman up as root (packages, base images):" >&2
        echo "run it with sudo, or use a Docker or Podman that reaches a registry." >&2
        return 1
    fi
    (wk_need_packages "${WK_CONTAINER_PACKAGES[@]}") >&2 || return 1
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)

    local conf=$dir/containers.conf want
    want='# Written by scripts/container.sh.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
'
    if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "${want%$'\n'}" ]; then
        printf '%s' "$want" >"$conf.tmp" && mv "$conf.tmp" "$conf" || return 1
    fi
    export CONTAINERS_CONF=$conf
    export BUILDAH_FORMAT=docker

    if podman image exists "$WK_BASE_IMAGE" && podman image exists "$WK_BASE_SLIM_IMAGE"; then
        return 0
    fi
    # One import at a time on this machine: the image store is shared by every checkout.
    (
        set -euo pipefail
        exec 9>/run/lock/wellknown-container.lock
        flock -w 900 9
        if podman image exists "$WK_BASE_IMAGE" && podman image exists "$WK_BASE_SLIM_IMAGE"; then
            exit 0
        fi
        _wk_import_debian "$dir/rootfs" >&2
    )
}

# _wk_import_debian ROOTFS: debootstrap into ROOTFS, import it as debian:12, make it slim as
# the registry's debian:12-slim is (no documentation, manuals or locales, and a dpkg setting
# that keeps them out) and import that too. ROOTFS is removed afterwards.
_wk_import_debian() {
    local rootfs=$1 mirror=${WK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
    local path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    local -a changes=(--change "ENV=PATH=$path" --change 'CMD=["bash"]')
    rm -rf "$rootfs"
    echo "container: debootstrap bookworm from $mirror (about half a minute)"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
        tail -n 20 "$rootfs.log"
        return 1
    }
    # The sources and apt settings of the registry's image.
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${mirror}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/*.log \
        "$rootfs"/tmp/* "$rootfs"/debootstrap
    : >"$rootfs/etc/hostname"
    tar --numeric-owner --xattrs -C "$rootfs" -c . |
        podman import -q "${changes[@]}" - "$WK_BASE_IMAGE" >/dev/null

    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# The slim variant: files a container seldom needs are left out, and stay out.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
    rm -rf "$rootfs"/usr/share/{groff,info,linda,locale,man}/* \
        "$rootfs"/usr/share/lintian/overrides/*
    find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    tar --numeric-owner --xattrs -C "$rootfs" -c . |
        podman import -q "${changes[@]}" - "$WK_BASE_SLIM_IMAGE" >/dev/null
    rm -rf "$rootfs" "$rootfs.log"
    echo "container: imported $WK_BASE_IMAGE and $WK_BASE_SLIM_IMAGE"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    wk_container_setup "$@"
    printf 'export CONTAINERS_CONF=%q\nexport BUILDAH_FORMAT=%q\n' "$CONTAINERS_CONF" \
        "$BUILDAH_FORMAT"
fi
