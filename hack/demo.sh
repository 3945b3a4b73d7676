#!/usr/bin/env bash
# The demo: the operator against a local control plane and simulated Destiny and Jamf (see hack/demo).
#   hack/demo.sh [--once] [--target jamfpro|jamfschool] [--devices 3000]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec go run ./hack/demo "$@"
