#!/usr/bin/env bash
# Load benchmark of qf-backoffice at national scale.
#
# Builds the release binary, loads the national data set (`demo-data --scale national`) once,
# starts the server on it, signs in a staff member and an éditeur member through a real sign-in
# link (GET the link page, POST the confirmation with its CSRF token), then runs wrk (1 thread,
# 16 connections, a few seconds each) on every page the issue names and prints req/s, p50, p99
# and the ratio to /health, with the server's RSS after each page, then its peak RSS.
#
#   bench/load.sh                                  # SQLite (target/bench/national.db)
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/qf_bench bench/load.sh   # PostgreSQL
#
# On SQLite it also prints the WAL's size at the end and its peak during the run.
#
# Variables: BENCH_DURATION (default 6s), BENCH_CONNECTIONS (16), BENCH_PORT (18714),
# BENCH_DIR (target/bench), BENCH_NO_BUILD=1 (use the binary already built),
# BENCH_WEBHOOK_EVENTS (events prepared per webhook step, default 20000),
# BENCH_ONLY (a regular expression: only the matching page labels, /health always runs),
# BENCH_BIN (another binary, e.g. an older build to compare with; nothing is built).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=${BENCH_DIR:-$TARGET/bench}
DURATION=${BENCH_DURATION:-6s}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
PORT=${BENCH_PORT:-18714}
EVENTS=${BENCH_WEBHOOK_EVENTS:-20000}
ONLY=${BENCH_ONLY:-.}
SECRET=bench-secret-datapass
BASE=http://127.0.0.1:$PORT
mkdir -p "$WORK"

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk absent : installation (apt-get install -y wrk)…"
    if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; else sudo apt-get install -y wrk >/dev/null; fi
fi

BIN=${BENCH_BIN:-$TARGET/release/qf-backoffice}
if [ "${BENCH_NO_BUILD:-0}" != 1 ] && [ -z "${BENCH_BIN:-}" ]; then
    echo "Compilation (cargo build --release)…"
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --bin qf-backoffice)
fi

if [ -n "${DATABASE_URL:-}" ]; then
    DB_URL=$DATABASE_URL
    BACKEND=PostgreSQL
    collectivites=$(psql "$DB_URL" -tAc "SELECT count(*) FROM collectivites" 2>/dev/null || echo 0)
else
    DB_URL=sqlite://$WORK/national.db
    BACKEND=SQLite
    collectivites=$(sqlite3 "$WORK/national.db" "SELECT count(*) FROM collectivites" 2>/dev/null || echo 0)
fi
export DATABASE_URL=$DB_URL
if [ "${collectivites:-0}" -lt 30000 ]; then
    if [ "${collectivites:-0}" -gt 0 ]; then
        echo "La base $BACKEND contient déjà des données sans être au format national : videz-la." >&2
        exit 1
    fi
    echo "Chargement du jeu national ($BACKEND)…"
    start=$(date +%s.%N)
    (cd "$WORK" && "$BIN" demo-data --scale national)
    printf 'Jeu national chargé en %.1f s\n' "$(echo "$(date +%s.%N) - $start" | bc)"
fi

# The server: no scheduler (no reminder sweep, no sync), no demo load, webhook secret set.
cd "$WORK"
BIND=127.0.0.1:$PORT PUBLIC_URL=$BASE DATAPASS_WEBHOOK_SECRET=$SECRET RUST_LOG=warn \
    "$BIN" serve --no-demo-data --no-scheduler >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
# On SQLite, the WAL's peak size over the run, sampled every 0.2 s.
WAL_PEAK=$WORK/wal_peak
echo 0 >"$WAL_PEAK"
if [ "$BACKEND" = SQLite ]; then
    (
        peak=0
        while kill -0 "$SERVER" 2>/dev/null; do
            size=$(stat -c %s "$WORK/national.db-wal" 2>/dev/null || echo 0)
            if [ "$size" -gt "$peak" ]; then peak=$size; echo "$peak" >"$WAL_PEAK"; fi
            sleep 0.2
        done
    ) &
    SAMPLER=$!
    trap 'kill $SERVER $SAMPLER 2>/dev/null || true' EXIT
fi
for _ in $(seq 1 100); do
    curl -fs "$BASE/health" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fs "$BASE/health" >/dev/null || { echo "le serveur ne répond pas (voir $WORK/server.log)" >&2; exit 1; }

# Signs `email` in through a real link; prints the Cookie header value.
sign_in() {
    local email=$1 jar link token csrf
    jar=$(mktemp)
    link=$("$BIN" login-link "$email" 2>/dev/null | tail -n 1)
    token=${link##*jeton=}
    csrf=$(curl -fs -c "$jar" -b "$jar" "$BASE/connexion/lien?jeton=$token" |
        grep -o 'name="csrf_token" value="[^"]*"' | head -n 1 | sed 's/.*value="//; s/"$//')
    curl -fs -o /dev/null -c "$jar" -b "$jar" -X POST \
        --data-urlencode "jeton=$token" --data-urlencode "csrf_token=$csrf" "$BASE/connexion/lien"
    awk '!/^#/ && NF >= 7 { printf "%s%s=%s", sep, $6, $7; sep="; " } /^#HttpOnly_/ { printf "%s%s=%s", sep, $6, $7; sep="; " }' "$jar"
    rm -f "$jar"
}
SQL() {
    if [ "$BACKEND" = SQLite ]; then sqlite3 "$WORK/national.db" "$1"; else psql "$DB_URL" -tAc "$1"; fi
}
# The first generated éditeur (see src/demo_scale.rs), its member and its form.
EDITEUR_ID=5ca1e000-0001-4000-8000-000000000000
EDITEUR_EMAIL=$(SQL "SELECT email FROM editeur_members WHERE editeur_id = '$EDITEUR_ID'")
# The webhook's new requests go through another éditeur's form (the last generated one): on
# PostgreSQL the base is not restored between runs, and the measured éditeur's pages must read
# the same clients every time.
WEBHOOK_EDITEUR_ID=5ca1e000-0001-4000-8000-000000000099
EDITEUR_CONTACT=$(SQL "SELECT contact_technique_email FROM editeurs WHERE id = '$WEBHOOK_EDITEUR_ID'")
FORM_UID=$(SQL "SELECT form_uid FROM editeur_forms WHERE editeur_id = '$WEBHOOK_EDITEUR_ID'")
STAFF=$(sign_in admin@demo.api.gouv.fr)
EDITEUR=$(sign_in "$EDITEUR_EMAIL")
QR_SIRET=$(SQL "SELECT siret FROM collectivites WHERE id = '5ca1e000-0004-4000-8000-000000000100'")

# Webhook bodies: signed create, submit and approve of new DataPass requests on existing
# communes, one file per step (signature TAB body per line), replayed in order by wrk.
RUN=$(date +%s)
python3 - "$WORK" "$SECRET" "$EVENTS" "$RUN" "$FORM_UID" "$EDITEUR_CONTACT" <<'PY'
import hashlib, hmac, json, sys
work, secret, count, run = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4])
form_uid, contact = sys.argv[5], sys.argv[6]
def luhn_digit(prefix):
    for d in "0123456789":
        digits = [int(c) for c in prefix + d]
        total = 0
        for i, n in enumerate(reversed(digits)):
            if i % 2 == 1:
                n *= 2
                n = n - 9 if n > 9 else n
            total += n
        if total % 10 == 0:
            return prefix + d
states = {"create": "draft", "submit": "submitted", "approve": "validated"}
for step, (event, state) in enumerate(states.items()):
    with open(f"{work}/webhook_{event}.txt", "w") as out:
        for i in range(count):
            c = (i * 36) // 34 + 1  # a commune of the national set (i % 36 < 34)
            while c % 36 >= 34:
                c += 1
            siret = luhn_digit(f"219{c:06d}{(c * 7) % 10000:04d}")
            model_id = run * 100_000 + i
            body = json.dumps({
                "event": event, "fired_at": run + step * 60, "model_type": "authorization_request/formulaire_qf",
                "model_id": model_id,
                "data": {"id": model_id, "public_id": f"6b9e2c43-2f1c-4c39-9a0e-{model_id:012d}"[-36:], "state": state,
                    "form_uid": form_uid, "created_at": "2026-09-21T08:00:00Z",
                    "last_submitted_at": None, "last_validated_at": None,
                    "data": {"cadre_juridique_nature": "Délibération tarifaire",
                        "cadre_juridique_url": "https://www.exemple.fr/deliberation-qf.pdf",
                        "scopes": ["quotient_familial"], "modalities": ["formulaire_qf"],
                        "contact_metier_given_name": "Paul", "contact_metier_family_name": "Durand",
                        "contact_metier_email": "paul.durand@exemple.fr",
                        "contact_technique_email": contact,
                        "delegue_protection_donnees_given_name": "Inès", "delegue_protection_donnees_family_name": "Morel",
                        "delegue_protection_donnees_email": "dpd@exemple.fr"},
                    "organization": {"id": c, "name": f"Commune {c}", "siret": siret},
                    "applicant": {"id": 99, "email": f"agent{i}@exemple.fr", "given_name": "Marie",
                        "family_name": "Curie", "phone_number": "0102030405", "job_title": "Directrice enfance"},
                    "service_provider": {"id": "scale", "siret": "41234567800012", "type": "editor"},
                    "authorizations": []}}, ensure_ascii=False, separators=(",", ":")).encode()
            sig = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
            out.write(sig + "\t" + body.decode() + "\n")
PY
cat >"$WORK/webhook.lua" <<'LUA'
local bodies, signatures, n = {}, {}, 0
function init(args)
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    n = n + 1
    signatures[n] = line:sub(1, tab - 1)
    bodies[n] = line:sub(tab + 1)
  end
end
local i = 0
function request()
  i = i % n + 1
  return wrk.format("POST", "/webhooks/datapass", {
    ["Content-Type"] = "application/json",
    ["X-Hub-Signature-256"] = signatures[i],
  }, bodies[i])
end
LUA

# Cold searches: a different text on each request (the first five letters of the
# collectivités' names, a few thousand), so that results kept between views (see
# `models::result_cache`) are seldom reused: what a search costs the first time.
SQL "SELECT DISTINCT lower(substr(name, 1, 5)) FROM collectivites" | python3 -c '
import sys, urllib.parse
terms = [t.strip() for t in sys.stdin if len(t.strip()) >= 3]
for page, out in (("/collectivites", sys.argv[1]), ("/instruction", sys.argv[2])):
    with open(out, "w") as f:
        for t in terms:
            f.write(page + "?q=" + urllib.parse.quote(t) + "\n")
' "$WORK/cold_collectivites.txt" "$WORK/cold_instruction.txt"
# Cold pages: a different page of a plain list on each request (shuffled; the national queue
# has about 580 pages), so that whole pages kept between views (see `state::PageCaches`) are
# seldom reused: what a page costs the first time.
python3 - "$WORK" <<'PY'
import random, sys
random.seed(14)
for name, path, last in (("cold_jetons", "/jetons", 1000), ("cold_queue", "/instruction", 550)):
    pages = list(range(1, last + 1))
    random.shuffle(pages)
    with open(f"{sys.argv[1]}/{name}.txt", "w") as f:
        for n in pages:
            f.write(f"{path}?page={n}\n")
PY
cat >"$WORK/paths.lua" <<'LUA'
-- Replays GET paths from a file (one per line), in order, with a session cookie.
local paths, n = {}, 0
function init(args)
  for line in io.lines(args[1]) do
    n = n + 1
    paths[n] = line
  end
  wrk.headers["Cookie"] = args[2]
end
local i = 0
function request()
  i = i % n + 1
  return wrk.format("GET", paths[i])
end
LUA

RESULTS=$WORK/results.tsv
: >"$RESULTS"
HEALTH_RPS=

# run LABEL COOKIE URL [LUA_SCRIPT LUA_ARG]
run() {
    local label=$1 cookie=$2 url=$3 script=${4:-} arg=${5:-} out status
    if [ "$label" != /health ] && ! [[ $label =~ $ONLY ]]; then return; fi
    if [ -z "$script" ]; then
        status=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$BASE$url")
        if [ "$status" != 200 ]; then echo "$label : HTTP $status sur $url" >&2; fi
        out=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --timeout 10s --latency -H "Cookie: $cookie" "$BASE$url")
    else
        out=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --timeout 10s --latency -s "$script" "$BASE$url" -- "$arg" "$cookie")
    fi
    local rps p50 p99 errors
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    errors=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' <<<"$out")
    [ -n "$HEALTH_RPS" ] || HEALTH_RPS=$rps
    printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$rps" "$p50" "$p99" "${errors:-0}" >>"$RESULTS"
    printf '%-34s %10s req/s  p50 %9s  p99 %9s  %5.1f %% de /health  RSS %4d Mo%s\n' "$label" "$rps" "$p50" "$p99" \
        "$(echo "100 * $rps / $HEALTH_RPS" | bc -l)" "$(($(awk '/VmRSS/ { print $2 }' "/proc/$SERVER/status") / 1024))" \
        "$([ -n "$errors" ] && echo "  ($errors réponses non 2xx/3xx)")"
}

echo
echo "== $BACKEND, jeu national, wrk 1 thread, $CONNECTIONS connexions, $DURATION par page =="
run /health "" /health
run "accueil équipe /" "$STAFF" /
run "file /instruction" "$STAFF" /instruction
run "jetons /jetons" "$STAFF" /jetons
run "jetons /jetons?fenetre=90" "$STAFF" "/jetons?fenetre=90"
run "collectivités /collectivites" "$STAFF" /collectivites
run "abonnements /abonnements" "$STAFF" /abonnements
run "recherche /instruction?q=dubois" "$STAFF" "/instruction?q=dubois"
run "recherche /jetons?q=beaumont" "$STAFF" "/jetons?q=beaumont"
run "recherche /collectivites?q=saint" "$STAFF" "/collectivites?q=saint"
run "recherche globale /recherche?q=dubois" "$STAFF" "/recherche?q=dubois"
run "recherche globale /recherche?q=21" "$STAFF" "/recherche?q=21"
run "recherche globale préfixe SIRET" "$STAFF" "/recherche?q=${QR_SIRET:0:9}"
run "recherche globale /recherche?q=beaumont" "$STAFF" "/recherche?q=beaumont"
run "recherche à froid /collectivites" "$STAFF" /collectivites "$WORK/paths.lua" "$WORK/cold_collectivites.txt"
run "recherche à froid /instruction" "$STAFF" /instruction "$WORK/paths.lua" "$WORK/cold_instruction.txt"
run "page à froid /jetons?page=N" "$STAFF" /jetons "$WORK/paths.lua" "$WORK/cold_jetons.txt"
run "page à froid /instruction?page=N" "$STAFF" /instruction "$WORK/paths.lua" "$WORK/cold_queue.txt"
run "recherche /abonnements?q=beaumont" "$STAFF" "/abonnements?q=beaumont"
run "recherche /editeurs?q=soft" "$STAFF" "/editeurs?q=soft"
run "recherche éditeur /editeur?q=beaumont" "$EDITEUR" "/editeur?q=beaumont"
run "tableau de bord /tableau-de-bord" "$STAFF" "/tableau-de-bord"
run "éditeur /editeurs/{id} (équipe)" "$STAFF" "/editeurs/$EDITEUR_ID"
run "éditeur : ses clients /" "$EDITEUR" /
run "éditeur : espace /editeur" "$EDITEUR" /editeur
run "QR code PNG" "" "/collectivites/$QR_SIRET/qrcode.png"
run "webhook create" "" /webhooks/datapass "$WORK/webhook.lua" "$WORK/webhook_create.txt"
run "webhook submit" "" /webhooks/datapass "$WORK/webhook.lua" "$WORK/webhook_submit.txt"
run "webhook approve" "" /webhooks/datapass "$WORK/webhook.lua" "$WORK/webhook_approve.txt"

echo "Livraisons du webhook de cette mesure, par issue :"
SQL "SELECT outcome, http_status, count(*) FROM webhook_deliveries WHERE model_id >= ${RUN}00000 GROUP BY outcome, http_status" | sed 's/^/  /'
rss=$(awk '/VmHWM/ { print $2 }' "/proc/$SERVER/status")
printf 'RSS maximale du serveur : %d Mo\n' "$((rss / 1024))"
if [ "$BACKEND" = SQLite ]; then
    printf 'Taille du WAL en fin de mesure : %d Mo (maximum pendant la mesure : %d Mo)\n' \
        "$(( $(stat -c %s "$WORK/national.db-wal" 2>/dev/null || echo 0) / 1048576 ))" \
        "$(( $(cat "$WAL_PEAK") / 1048576 ))"
fi
echo "Résultats bruts : $RESULTS"
