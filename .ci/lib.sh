# Sourced by the test command's scripts: where its files go and which tools it runs.
# Nothing here installs anything; .ci/install does, and only into the target directory.

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The cargo target directory holds everything the test command makes, the Python venv too:
# `rm -rf "$target"` removes all of it.
target="${CARGO_TARGET_DIR:-$repo/target}"
venv="$target/venv"
# The venv's interpreter: never whatever `python3`, `checkov` or `moto_server` is first on PATH.
py="$venv/bin/python"

# terraform init with the providers from the filesystem mirror when there is one (our
# machines: /opt/tf-plugins), else from the registry. `-plugin-dir` replaces only where
# providers come from: a user's own TF_CLI_CONFIG_FILE is read as it is, never written.
tf_mirror="${TF_PLUGIN_MIRROR:-/opt/tf-plugins}"
tf_has_mirror() { [ -d "$tf_mirror/registry.terraform.io/hashicorp/aws" ]; }
tf_init() {
  if tf_has_mirror; then
    command terraform init -plugin-dir="$tf_mirror" "$@"
  else
    command terraform init "$@"
  fi
}
tf_providers_say() {
  if tf_has_mirror; then
    echo "terraform providers: from the filesystem mirror $tf_mirror"
  else
    echo "terraform providers: no hashicorp/aws in the mirror $tf_mirror (TF_PLUGIN_MIRROR): terraform init takes them from the registry (registry.terraform.io), which needs the internet"
  fi
}

# A free TCP port on loopback, chosen by the kernel (two runs never share one).
free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
