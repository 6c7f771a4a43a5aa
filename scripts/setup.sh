#!/usr/bin/env bash
# Idempotent set-up for building and running JOS.
#
# Installs what a fresh machine lacks: QEMU and the GRUB tools from Debian,
# and the pinned nightly's rust-src component (build-std needs it). Every
# step is skipped when its result is already there, so a second run costs a
# few milliseconds; the GNUmakefile runs this before anything that builds.
set -eu

cd "$(dirname "$0")/.."

stamp=obj/.setup-done
# Fast path: everything was verified before and the inputs did not change.
if [ -f "$stamp" ] && [ "$stamp" -nt scripts/setup.sh ] && [ "$stamp" -nt rust-toolchain.toml ] \
   && command -v qemu-system-i386 >/dev/null && command -v grub-mkrescue >/dev/null; then
    exit 0
fi

# --- Debian packages -------------------------------------------------------
need_pkgs=()
command -v qemu-system-i386 >/dev/null || need_pkgs+=(qemu-system-x86)
command -v grub-mkrescue >/dev/null || need_pkgs+=(grub-common)
[ -d /usr/lib/grub/i386-pc ] || need_pkgs+=(grub-pc-bin)
command -v xorriso >/dev/null || need_pkgs+=(xorriso)
command -v mformat >/dev/null || need_pkgs+=(mtools)

if [ ${#need_pkgs[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing ${need_pkgs[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        # Another apt (an automatic update at boot) may hold apt's locks:
        # apt-get-wait.sh waits a few minutes for them, saying so.
        scripts/apt-get-wait.sh update -qq || true
        scripts/apt-get-wait.sh install -y -qq --no-install-recommends "${need_pkgs[@]}"
    else
        echo "setup: missing packages: ${need_pkgs[*]}" >&2
        echo "setup: run this, then try again:" >&2
        echo "    sudo apt-get install -y ${need_pkgs[*]}" >&2
        exit 1
    fi
fi

# --- Rust ------------------------------------------------------------------
toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup run "$toolchain" rustc -V >/dev/null 2>&1; then
    echo "setup: installing the $toolchain toolchain" >&2
    rustup toolchain install "$toolchain" --profile minimal >&2
fi
sysroot=$(rustup run "$toolchain" rustc --print sysroot)
if [ ! -d "$sysroot/lib/rustlib/src/rust/library/core" ]; then
    echo "setup: adding rust-src to $toolchain (build-std needs it)" >&2
    rustup component add rust-src --toolchain "$toolchain" >&2
fi
for c in rustfmt clippy; do
    rustup run "$toolchain" which "cargo-${c/rustfmt/fmt}" >/dev/null 2>&1 \
        || rustup component add "$c" --toolchain "$toolchain" >&2 || true
done
# The target spec and build flags were measured against this nightly.
want="2026-05-19"
if ! rustup run "$toolchain" rustc -V | grep -q "$want"; then
    echo "setup: warning: expected the nightly of $want, found: $(rustup run "$toolchain" rustc -V)" >&2
fi

mkdir -p obj
touch "$stamp"
