#!/usr/bin/env bash
# Builds the Cairn container image without a registry and without a second Rust
# build: a root filesystem is assembled from the release binary and the shared
# libraries `ldd` lists for it, and `docker import`ed. Nothing is pulled.
#
# The image holds /usr/local/bin/cairn, its libraries, /etc/passwd and /etc/group
# with a `cairn` user (uid/gid 10001, the user the image runs as), /etc/nsswitch.conf,
# the host's CA bundle (/etc/ssl/certs/ca-certificates.crt),
# an empty /tmp and /data (owned by cairn: a named volume mounted there starts with
# that owner). Entry point: `cairn`. No HEALTHCHECK is built in (what to probe
# depends on the command); compose files use `cairn healthcheck --url URL`.
#
# Usage: deploy/docker/build-image.sh [TAG]          (default TAG: cairn:local)
# Env:   CAIRN_BIN=path  binary to package (default: target/release/cairn, built
#                        with `cargo build --release -p cairn` when missing)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TAG="${1:-cairn:local}"
BIN="${CAIRN_BIN:-$ROOT/target/release/cairn}"
UID_CAIRN=10001

command -v docker >/dev/null 2>&1 || { echo "build-image: docker is not installed" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "build-image: cannot reach the Docker daemon (docker info failed)" >&2; exit 1; }
if [ ! -x "$BIN" ]; then
  echo "build-image: $BIN missing; cargo build --release -p cairn" >&2
  (cd "$ROOT" && cargo build --release -p cairn)
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
FS="$WORK/rootfs"
mkdir -p "$FS/usr/local/bin" "$FS/etc" "$FS/tmp" "$FS/data"
cp "$BIN" "$FS/usr/local/bin/cairn"
# The release profile keeps line tables (139 MB); the image keeps the symbols only
# (about 32 MB), so a backtrace still names functions.
if command -v strip >/dev/null 2>&1; then strip --strip-debug "$FS/usr/local/bin/cairn"; fi
chmod 0755 "$FS/usr/local/bin/cairn"

# Every library the binary loads, at the path the dynamic loader looks for it
# (symlinks resolved; the loader itself is the line without "=>").
libs=$(ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
if ldd "$BIN" | grep -q "not found"; then
  echo "build-image: ldd $BIN reports missing libraries:" >&2; ldd "$BIN" >&2; exit 1
fi
for lib in $libs; do
  mkdir -p "$FS$(dirname "$lib")"
  cp -L "$lib" "$FS$lib"
done

cat >"$FS/etc/passwd" <<PASSWD
root:x:0:0:root:/nonexistent:/sbin/nologin
cairn:x:$UID_CAIRN:$UID_CAIRN:Cairn object store:/data:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
PASSWD
cat >"$FS/etc/group" <<GROUP
root:x:0:
cairn:x:$UID_CAIRN:
nogroup:x:65534:
GROUP
# glibc resolves the other containers' names (node1, ...) through these.
echo "hosts: files dns" >"$FS/etc/nsswitch.conf"
# The host's CA bundle (Debian's ca-certificates), so `cairn healthcheck`, `cairn
# key` and `cairn bucket` can check a publicly signed HTTPS certificate; a
# private CA is given with --ca-cert instead.
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
if [ -f "$CA_BUNDLE" ]; then
  mkdir -p "$FS/etc/ssl/certs"
  cp -L "$CA_BUNDLE" "$FS$CA_BUNDLE"
else
  echo "build-image: no $CA_BUNDLE on this host (apt-get install ca-certificates); the image trusts only --ca-cert" >&2
fi

# Everything owned by root and read-only to the cairn user except /data and /tmp.
# Fixed times and order: the same binary gives the same layer.
TAR="$WORK/rootfs.tar"
tar_opts=(--numeric-owner --sort=name --mtime=@0 -C "$FS")
tar -cf "$TAR" "${tar_opts[@]}" --owner=0 --group=0 --exclude=./data --exclude=./tmp .
chmod 0700 "$FS/data"
chmod 1777 "$FS/tmp"
tar -rf "$TAR" "${tar_opts[@]}" --owner=0 --group=0 --no-recursion ./tmp
tar -rf "$TAR" "${tar_opts[@]}" --owner=$UID_CAIRN --group=$UID_CAIRN --no-recursion ./data

VERSION="$("$BIN" --version | awk '{ print $2 }')"
REVISION="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
docker import \
  --change "USER $UID_CAIRN:$UID_CAIRN" \
  --change 'WORKDIR /data' \
  --change 'ENTRYPOINT ["/usr/local/bin/cairn"]' \
  --change 'CMD ["--help"]' \
  --change 'EXPOSE 9000 7001' \
  --change "LABEL org.opencontainers.image.title=cairn org.opencontainers.image.version=$VERSION org.opencontainers.image.revision=$REVISION" \
  --message "cairn $VERSION ($REVISION), assembled by deploy/docker/build-image.sh" \
  "$TAR" "$TAG" >/dev/null
echo "built $TAG: cairn $VERSION ($REVISION), $(du -h "$TAR" | cut -f1) uncompressed; libraries: $(echo $libs | tr '\n' ' ')"
