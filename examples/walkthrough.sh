#!/usr/bin/env bash
# The README's walk-through, as a script that runs as written against a fresh `overture serve`
# (SQLite, sandboxes and demo MP mounted):
#
#   cargo run --release -p overture-server -- serve --demo-file overture-data/demo-company.json
#   examples/walkthrough.sh            # in another terminal, from the same directory
#
# Steps: a FORUMPAY pay-in paid on its hosted page; a PAYMENTSOFT payout; a payout held for
# approval and approved by an operator made with the CLI; the status views; the webhooks the
# demo MP received. Every answer is checked; anything unexpected stops the script with a
# message on stderr and exit status 1.
#
# Environment (all optional):
#   OVERTURE_URL          the server (default http://127.0.0.1:8080)
#   OVERTURE_DEMO_FILE    the demo company's JSON line written by `serve --demo-file`
#                         (default overture-data/demo-company.json)
#   OVERTURE_COMPANY_JWT  a company JWT to use instead of the demo file's
#   OVERTURE_BIN          the `overture` command (default: `overture` on PATH, else
#                         target/release/overture, else `cargo run --release -q -p overture-server --`);
#                         it must see the server's database (OVERTURE_DATABASE_URL and the
#                         master key, by default ./overture-data/)
#   WALKTHROUGH_TIMEOUT   seconds to wait for each final state or webhook (default 60)
set -euo pipefail
shopt -s inherit_errexit

URL=${OVERTURE_URL:-http://127.0.0.1:8080}
URL=${URL%/}
DEMO_FILE=${OVERTURE_DEMO_FILE:-overture-data/demo-company.json}
TIMEOUT=${WALKTHROUGH_TIMEOUT:-60}
RETURN_URL=https://merchant.example/back
RUN=$(date +%s)-$$

fail() {
  echo "walkthrough: $*" >&2
  exit 1
}

for tool in curl jq; do
  command -v "$tool" >/dev/null 2>&1 || fail "needs $tool (Debian: apt-get install $tool)"
done

if [ -n "${OVERTURE_BIN:-}" ]; then
  read -ra CLI <<<"$OVERTURE_BIN"
elif command -v overture >/dev/null 2>&1; then
  CLI=(overture)
elif [ -x target/release/overture ]; then
  CLI=(target/release/overture)
else
  CLI=(cargo run --release -q -p overture-server --)
fi

# call STATUS METHOD URL-or-PATH [curl arguments…]: prints the answer's body; fails when the
# HTTP status is not STATUS.
call() {
  local expect=$1 method=$2 target=$3 out status body
  shift 3
  case $target in http://* | https://*) ;; *) target=$URL$target ;; esac
  out=$(mktemp)
  status=$(curl -sS -o "$out" -w '%{http_code}' -X "$method" "$target" "$@") \
    || { rm -f "$out"; fail "$method $target: no answer (is the server running at $URL?)"; }
  body=$(cat "$out")
  rm -f "$out"
  [ "$status" = "$expect" ] || fail "$method $target answered HTTP $status, expected $expect: $body"
  printf '%s' "$body"
}

# check JSON JQ-FILTER WHAT: fails with WHAT unless the filter is true of JSON.
check() {
  jq -e "$2" >/dev/null <<<"$1" || fail "$3: $1"
}

# cashier BODY [curl arguments…]: a Cashier API request as the demo MP makes it.
cashier() {
  local body=$1
  shift
  call 200 POST /v1/api/mozarto/cashier -H "Authorization: Bearer $JWT" \
    -H 'x-user-authorization: demo-session' -H 'Content-Type: application/json' "$@" -d "$body"
}

view() {
  call 200 GET "/v1/api/mozarto/transactions/$1" -H "Authorization: Bearer $JWT"
}

# wait_state ID STATE: polls the status view until the transaction is in STATE and prints it;
# fails when it ends in another final state or time runs out.
wait_state() {
  local id=$1 want=$2 deadline=$((SECONDS + TIMEOUT)) v state
  while :; do
    v=$(view "$id")
    state=$(jq -r .data.state <<<"$v")
    if [ "$state" = "$want" ]; then
      printf '%s' "$v"
      return
    fi
    case $state in
      approved | declined | failed | rejected) fail "$id ended $state, expected $want: $v" ;;
    esac
    [ "$SECONDS" -lt "$deadline" ] || fail "$id still $state after ${TIMEOUT}s, expected $want"
    sleep 0.5
  done
}

# The history as one line: `created → submitting → pending (Waiting) → approved (Confirmed)`.
history() {
  jq -r '.data | .transactionId + " " + .state + ": " + ([.history[] | .to
    + (if .pspStatus then " (" + .pspStatus + ")" else "" end)
    + (if (.actor | startswith("operator:")) then " [" + .actor + ": " + .reason + "]" else "" end)
    ] | join(" → "))' <<<"$1"
}

call 200 GET /healthz >/dev/null
if [ -n "${OVERTURE_COMPANY_JWT:-}" ]; then
  JWT=$OVERTURE_COMPANY_JWT
else
  [ -r "$DEMO_FILE" ] || fail "no demo company file at $DEMO_FILE: start a fresh server with \
\`overture serve --demo-file $DEMO_FILE\`, or set OVERTURE_DEMO_FILE or OVERTURE_COMPANY_JWT"
  JWT=$(jq -er .companyJwt "$DEMO_FILE") || fail "$DEMO_FILE holds no companyJwt"
fi
echo "Overture walk-through against $URL"

echo
echo "1. Pay-in (FORUMPAY, crypto): the answer carries the hosted payment page in data.url"
payin=$(cashier '{"pspType":"FORUMPAY","type":"PAYIN","baseamount":25.00,"currency":"EUR",
  "userId":"player-1","email":"player@example.com","country":"DE","returnUrl":"'$RETURN_URL'"}')
check "$payin" '.isSuccess and .data.status == "PENDING" and (.data.transactionId | startswith("txn_"))
  and (.data.sessionId | startswith("ses_")) and (.data.url | test("/sandbox/forumpay/pay/"))' \
  "the pay-in was not created"
jq -c .data <<<"$payin"
PAYIN=$(jq -r .data.transactionId <<<"$payin")
page=$(jq -r .data.url <<<"$payin")
call 200 GET "$page" >/dev/null
paid=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -X POST "$page" -d outcome=approve) \
  || fail "POST $page: no answer"
[ "$paid" = "303 $RETURN_URL" ] || fail "the hosted page answered '$paid', not a 303 to $RETURN_URL"
echo "paid on the hosted page: POST data.url outcome=approve → 303 $RETURN_URL"
history "$(wait_state "$PAYIN" approved)"

echo
echo "2. Payout (PAYMENTSOFT): the demo MP's verify-user allows the user; the PSP's signed callback decides"
payout=$(cashier '{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":100.00,"currency":"EUR",
  "userId":"player-1","email":"player@example.com"}' -H "Idempotency-Key: walkthrough-$RUN")
check "$payout" '.isSuccess and .data.status == "PENDING" and (.data.transactionId | startswith("txn_"))' \
  "the payout was not created"
jq -c .data <<<"$payout"
PAYOUT=$(jq -r .data.transactionId <<<"$payout")
history "$(wait_state "$PAYOUT" approved)"

echo
echo "3. Held payout (1500.00 EUR: the demo company holds payouts of 1000 or more for an operator)"
held=$(cashier '{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":1500.00,"currency":"EUR",
  "userId":"player-1","email":"player@example.com"}')
check "$held" '.isSuccess and .data.status == "PENDING"' "the held payout was not created"
jq -c .data <<<"$held"
HELD=$(jq -r .data.transactionId <<<"$held")
history "$(wait_state "$HELD" awaiting_approval)"
operator=$("${CLI[@]}" operators create --email "walkthrough-$RUN@example.com" --role approver) \
  || fail "\`${CLI[*]} operators create\` failed: does it see the server's database?"
check "$operator" '(.operatorId | startswith("opr_")) and (.token | startswith("opt_"))' \
  "operators create printed no operator"
echo "operator created with the CLI: $(jq -r .operatorId <<<"$operator")"
approved=$(call 200 POST "/v1/api/backoffice/transactions/$HELD/approve" \
  -H "Authorization: Bearer $(jq -r .token <<<"$operator")" -H 'Content-Type: application/json' \
  -d '{"reason":"KYC ok"}')
check "$approved" '.isSuccess and .data.transactionId == "'"$HELD"'"' "the approval was refused"
echo "approved by the operator (POST …/approve, reason \"KYC ok\"); verify-user was asked again, signed"
history "$(wait_state "$HELD" approved)"

echo
echo "4. Status views (GET /v1/api/mozarto/transactions/{id}), once each webhook is delivered"
for id in "$PAYIN" "$PAYOUT" "$HELD"; do
  deadline=$((SECONDS + TIMEOUT))
  while v=$(view "$id") && ! jq -e '.data.webhooks | length == 1 and .[0].state == "delivered"' \
    >/dev/null <<<"$v"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the webhook of $id was not delivered in ${TIMEOUT}s: $v"
    sleep 0.5
  done
  check "$v" '.data.transactionStatus == "Approved" and (.data.attempts | length == 1)' "unexpected view"
  jq -c '.data | {transactionId, type, pspType, state, transactionStatus, amount, currency,
    pspStatus, attempts: [.attempts[] | {orderId, state}],
    webhooks: [.webhooks[] | {webhookId, state, attempts}]}' <<<"$v"
done

echo
echo "5. Webhooks the demo MP received (GET /sandbox/mp/webhooks), one per transaction"
received=$(call 200 GET /sandbox/mp/webhooks)
ours=$(jq -c --arg a "$PAYIN" --arg b "$PAYOUT" --arg c "$HELD" \
  '[.webhooks[] | select(.body.transaction_id == ($a, $b, $c))]' <<<"$received")
check "$ours" 'length == 3 and ([.[].body.transaction_id] | unique | length == 3)
  and all(.[]; .body.transaction_status == "Approved" and (.webhookId | startswith("msg_"))
              and (.webhookSignature | startswith("v1,")))' \
  "the demo MP did not receive exactly one Approved webhook per transaction"
jq -c '.[] | {webhookId, webhookSignature, body}' <<<"$ours"

echo
echo "walk-through complete: 3 transactions approved, 3 signed webhooks received by the demo MP"
