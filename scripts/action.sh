#!/usr/bin/env bash
# The loadgate action's entrypoint (action.yml runs it as a composite step).
#
# Linux runner with Docker: runs the published image on the runner's own
# network (`docker run --network host`), as the runner's own user, with the
# workspace and the runner's temp directory (file commands, event payload)
# mounted at the same paths, so 127.0.0.1 is the runner's loopback and every
# path in the environment means the same inside and outside.
# Otherwise (macOS, Windows, a runner without Docker): downloads the released
# static binary for the runner's OS and architecture, checks it against the
# release's checksums.txt and runs it on the runner.
#
# Environment (set by action.yml): INPUT_* for loadgate itself, and
#   LOADGATE_VERSION  release to run (v1.2.3); default: the action's own ref
#   LOADGATE_IMAGE    image to run instead of the release's (docker path)
#   LOADGATE_RUNTIME  auto (default), docker or binary
# Exit codes are loadgate's; this script's own failures exit 2 (usage: no
# version to run) or 3 (infrastructure: download, checksum, Docker).
set -euo pipefail

repo_url="${LOADGATE_RELEASES_URL:-https://github.com/loadgate/loadgate/releases/download}"
registry="${LOADGATE_REGISTRY:-ghcr.io/loadgate/loadgate}"

die() { # die CODE MESSAGE
  echo "::error title=loadgate action::$2"
  exit "$1"
}

# The action's ref: the runner unpacks a `uses: owner/repo@ref` action into
# .../_actions/owner/repo/ref, and GITHUB_ACTION_REF is empty inside a
# composite action's steps. `uses: ./` has no ref.
action_ref() {
  local p="${GITHUB_ACTION_PATH:-}"
  p="${p//\\//}"
  case "$p" in
  */_actions/*/*/*) basename "$p" ;;
  *) echo "" ;;
  esac
}

version="${LOADGATE_VERSION:-}"
if [ -z "$version" ]; then
  version="$(action_ref)"
fi
# A published version: a release tag (v1.2.3, v1.2.3-rc.1), a moving major or
# minor tag (v1, v1.2) or a full commit SHA (images only). Branches are not
# published.
immutable=false
if [[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ || "$version" =~ ^[0-9a-f]{40}$ ]]; then
  immutable=true
elif ! [[ "$version" =~ ^v[0-9]+(\.[0-9]+)?$ ]]; then
  version=""
fi

runtime="${LOADGATE_RUNTIME:-auto}"
if [ "$runtime" = auto ]; then
  runtime=binary
  if [ "${RUNNER_OS:-Linux}" = Linux ] && docker version >/dev/null 2>&1; then
    runtime=docker
  fi
fi

case "$runtime" in
docker)
  image="${LOADGATE_IMAGE:-}"
  if [ -z "$image" ]; then
    [ -n "$version" ] || die 2 "no published loadgate version for this action ref ('${GITHUB_ACTION_PATH:-}'): use loadgate/loadgate@v1 (or a release tag or commit SHA), or set the input version (a release) or image"
    image="$registry:$version"
  fi
  # A moving tag (v1) is checked for a newer image; a release tag or SHA
  # never changes, so a cached copy is used as is.
  pull=missing
  if [ -z "${LOADGATE_IMAGE:-}" ] && [ "$immutable" = false ]; then
    pull=always
  fi
  if [ "$pull" = always ] || ! docker image inspect "$image" >/dev/null 2>&1; then
    echo "::group::loadgate: docker pull $image"
    start=$SECONDS
    docker pull --quiet "$image" || die 3 "docker pull $image failed"
    echo "pulled in $((SECONDS - start)) s"
    echo "::endgroup::"
  fi

  ws="${GITHUB_WORKSPACE:?GITHUB_WORKSPACE is not set}"
  args=(run --rm --network host --user "$(id -u):$(id -g)" --workdir "$ws")
  # Same-path mounts: the workspace, and the directories holding the file
  # commands and the event payload (all under RUNNER_TEMP on a runner).
  mounts=()
  add_mount() {
    local d="$1" m
    [ -n "$d" ] && [ -d "$d" ] || return 0
    for m in "${mounts[@]}"; do
      case "$d/" in "$m"/*) return 0 ;; esac
    done
    mounts+=("$d")
  }
  add_mount "$ws"
  add_mount "${RUNNER_TEMP:-}"
  for f in GITHUB_OUTPUT GITHUB_STEP_SUMMARY GITHUB_ENV GITHUB_PATH GITHUB_STATE GITHUB_EVENT_PATH; do
    if [ -n "${!f:-}" ]; then
      add_mount "$(dirname "${!f}")"
    fi
  done
  for m in "${mounts[@]}"; do
    args+=(-v "$m:$m")
  done
  # Every variable of the step goes in by name (docker reads the value from
  # its own environment, so multi-line values and INPUT_GITHUB-TOKEN, which
  # is no shell name, pass unchanged) except those that describe this
  # machine rather than the step.
  while IFS= read -r -d '' kv; do
    name="${kv%%=*}"
    case "$name" in
    PATH | HOME | HOSTNAME | PWD | OLDPWD | SHLVL | _ | TMPDIR | TMP | TEMP | USER | LOGNAME | SHELL | TERM | \
      LD_* | DOCKER_* | BASH_FUNC_* | LOADGATE_RUNTIME | LOADGATE_IMAGE | LOADGATE_VERSION | LOADGATE_RELEASES_URL | LOADGATE_REGISTRY) ;;
    *) args+=(-e "$name") ;;
    esac
  done < <(env -0)
  args+=("$image" action)
  exec docker "${args[@]}"
  ;;

binary)
  [ -n "$version" ] || die 2 "no published loadgate version for this action ref ('${GITHUB_ACTION_PATH:-}'): use loadgate/loadgate@v1 (or a release tag), or set the input version"
  [[ "$version" =~ ^[0-9a-f]{40}$ ]] && die 2 "binaries are published per release, not per commit: on ${RUNNER_OS:-this runner} use a release tag (loadgate/loadgate@v1.2.3) or set the input version"
  case "${RUNNER_OS:-Linux}" in
  Linux) os=linux ;;
  macOS) os=darwin ;;
  Windows) os=windows ;;
  *) die 3 "runner OS '${RUNNER_OS:-}' has no loadgate release" ;;
  esac
  case "${RUNNER_ARCH:-X64}" in
  X64) arch=amd64 ;;
  ARM64) arch=arm64 ;;
  *) die 3 "runner architecture '${RUNNER_ARCH:-}' has no loadgate release" ;;
  esac
  exe=loadgate
  [ "$os" = windows ] && exe=loadgate.exe
  archive="loadgate_${os}_${arch}.tar.gz"
  dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/loadgate-$version-$os-$arch"
  # Git Bash on Windows: GNU tar reads "D:\a\_temp" as a remote host.
  if command -v cygpath >/dev/null 2>&1; then
    dir="$(cygpath -u "$dir")"
  fi
  if [ ! -x "$dir/$exe" ]; then
    echo "::group::loadgate: download $version $archive"
    rm -rf "$dir" && mkdir -p "$dir"
    start=$SECONDS
    curl -fsSL --retry 3 -o "$dir/$archive" "$repo_url/$version/$archive" || die 3 "download $repo_url/$version/$archive failed"
    curl -fsSL --retry 3 -o "$dir/checksums.txt" "$repo_url/$version/checksums.txt" || die 3 "download $repo_url/$version/checksums.txt failed"
    want="$(awk -v f="$archive" '$2 == f || $2 == "*"f { print $1 }' "$dir/checksums.txt")"
    if command -v sha256sum >/dev/null 2>&1; then
      got="$(sha256sum "$dir/$archive" | awk '{ print $1 }')"
    else
      got="$(shasum -a 256 "$dir/$archive" | awk '{ print $1 }')"
    fi
    if [ -z "$want" ] || [ "$want" != "$got" ]; then
      die 3 "checksum of $archive: got '$got', checksums.txt says '$want'"
    fi
    tar -xzf "$dir/$archive" -C "$dir" "$exe" || die 3 "unpack $archive failed"
    echo "downloaded and verified in $((SECONDS - start)) s"
    echo "::endgroup::"
  fi
  exec "$dir/$exe" action
  ;;

*) die 2 "LOADGATE_RUNTIME '$runtime': want auto, docker or binary" ;;
esac
