#!/usr/bin/env bash
# npm run k8s:minikube: from a running minikube to a trace in Sentry.
# Builds both images inside minikube (the service, and our collector from
# collector/Dockerfile), applies k8s/overlays/minikube (collector,
# Sentry Secret from k8s/sentry/sentry.env, gateway and users), waits for the
# rollouts, then calls the gateway through a port-forward. Safe to re-run.
#
#   ROLLOUT_TIMEOUT=180s   how long each rollout may take
#   LOCAL_PORT=8080        local end of the port-forward to the gateway
set -euo pipefail
cd "$(dirname "$0")/.."

OVERLAY=k8s/overlays/minikube
ENV_FILE=k8s/sentry/sentry.env
# A line of sentry.env whose value kustomize would keep with its quotes, trailing space or comment.
SENTRY_ENV_MISTAKES='^[^#[:space:]][^=]*=([[:space:]]*["'"'"']|.*[[:space:]]$|.*[[:space:]]#)'
IMAGE=users-api:dev                      # the tags k8s/overlays/minikube expects
COLLECTOR_IMAGE=otelcol-users-demo:dev
TIMEOUT="${ROLLOUT_TIMEOUT:-180s}"
LOCAL_PORT="${LOCAL_PORT:-8080}"

say() { echo "[k8s:minikube] $*" >&2; }
fail() { say "ERROR: $*"; exit 1; }

for tool in minikube kubectl curl; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
minikube status >/dev/null 2>&1 || fail "minikube is not running: minikube start --cni=calico"
context="$(kubectl config current-context)"
[[ "$context" == "$(minikube profile)" ]] || fail "kubectl points at '$context', not minikube: kubectl config use-context $(minikube profile)"
[[ -f "$ENV_FILE" ]] || fail "$ENV_FILE is missing: cp $ENV_FILE.example $ENV_FILE, then fill in your DSN's parts (README.md, \"minikube, from an empty cluster to a trace in Sentry\", step 1)"
if grep -v '^[[:space:]]*#' "$ENV_FILE" | grep -Eq 'ORG_ID|PROJECT_ID|=PUBLIC_KEY$'; then
  fail "$ENV_FILE still has placeholders (ORG_ID, PROJECT_ID, PUBLIC_KEY): fill in your DSN's parts"
fi
# kustomize's env files keep quotes, trailing spaces and a trailing "# comment" as
# part of the value (it drops a line's \r and blank lines, so this check does too).
if tr -d '\r' < "$ENV_FILE" | grep -Eq "$SENTRY_ENV_MISTAKES"; then
  fail "$ENV_FILE has a quoted value, a trailing space or a comment after a value: write KEY=value (kustomize would keep the rest as part of the value)"
fi
if grep -Eq '^[[:space:]]*SENTRY_DSN=.' "$ENV_FILE" && ! grep -Eq '^[[:space:]]*-[[:space:]]*\.\./\.\./components/sentry-issues' "$OVERLAY/kustomization.yaml"; then
  say "note: SENTRY_DSN is set but $OVERLAY leaves out k8s/components/sentry-issues, so the NetworkPolicies"
  say "      refuse its HTTPS to Sentry: no Issues. Uncomment the two components lines in $OVERLAY/kustomization.yaml"
fi
# minikube's default CNI ignores NetworkPolicies: the demo would work, their rules untried.
if ! kubectl -n kube-system get daemonset calico-node >/dev/null 2>&1 && ! kubectl -n kube-system get daemonset cilium >/dev/null 2>&1; then
  say "note: no calico-node or cilium DaemonSet in kube-system, so this cluster may not enforce the NetworkPolicies:"
  say "      the demo then works without them tried. A cluster that does: minikube start --cni=calico"
fi
# Something else on the port (the local demo's gateway?) would answer in the cluster's place.
if curl -s -o /dev/null --max-time 2 "http://localhost:$LOCAL_PORT/"; then
  fail "localhost:$LOCAL_PORT already answers (npm run demo?): stop it, or choose another port: LOCAL_PORT=18080 npm run k8s:minikube"
fi

say "building $IMAGE inside minikube ..."
minikube image build -t "$IMAGE" .
say "building $COLLECTOR_IMAGE inside minikube (first build: a few minutes) ..."
minikube image build -t "$COLLECTOR_IMAGE" collector

say "applying $OVERLAY ..."
kubectl apply -k "$OVERLAY"
# The tags stay `dev`, so a rebuilt image is picked up only by new pods.
kubectl -n observability rollout restart deployment/otel-collector
kubectl -n users-demo rollout restart deployment/gateway deployment/users

say "waiting for the rollouts (at most $TIMEOUT each) ..."
kubectl -n observability rollout status deployment/otel-collector --timeout="$TIMEOUT"
kubectl -n users-demo rollout status deployment/users --timeout="$TIMEOUT"
kubectl -n users-demo rollout status deployment/gateway --timeout="$TIMEOUT"

say "port-forward localhost:$LOCAL_PORT -> service/gateway ..."
kubectl -n users-demo port-forward service/gateway "$LOCAL_PORT:8080" >/dev/null 2>&1 &
forward=$!
trap 'kill "$forward" 2>/dev/null || true' EXIT
ready=false
for _ in $(seq 1 30); do
  curl -fsS "http://localhost:$LOCAL_PORT/readyz" >/dev/null 2>&1 && { ready=true; break; }
  kill -0 "$forward" 2>/dev/null || break
  sleep 1
done
$ready || fail "the gateway did not answer through the port-forward: try kubectl -n users-demo port-forward service/gateway $LOCAL_PORT:8080"

for path in /users/42 /chain/123; do
  say "GET $path"
  curl -fsS --max-time 10 "http://localhost:$LOCAL_PORT$path"
  echo
done

say "done. In Sentry: Explore > Traces, the trace of GET /chain/:id (gateway -> users) appears"
say "after the collector's 10 s tail-sampling wait. Nothing there? README.md, \"When something is wrong\":"
say "  kubectl -n observability logs deployment/otel-collector"
