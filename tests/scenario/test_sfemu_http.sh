#!/usr/bin/env bash
# sfemu over HTTP: authentication, bad input, limits, faults and control endpoints, all through
# the real binary on loopback. Each bad request must change nothing.
. "$(dirname "$0")/lib.sh"

start_sfemu a --access-token T --api-daily-limit 60
U=$URL_a
B=$U/services/data/v62.0
AUTH=(-H "Authorization: Bearer T")
JS=(-H "Content-Type: application/json")

req GET "$U/services/data/"
expect_status 200 "versions list needs no token"
expect_json 'j[0]["version"]=="42.0" and j[-1]["version"]=="62.0" and j[-1]["url"]=="/services/data/v62.0"' "versions 42.0 to 62.0"

req GET "$B/sobjects" -H "Authorization: OAuth T"
expect_status 200 "Authorization: OAuth accepted"
req GET "$B/sobjects" -H "Authorization: Bearer nope"
expect_status 401 "unknown token"
expect_json 'j[0]["errorCode"]=="INVALID_SESSION_ID" and j[0]["message"]=="Session expired or invalid"' "401 body is a Salesforce error array"
req GET "$B/sobjects"
expect_status 401 "no token"

req POST "$B/sobjects/Account" "${AUTH[@]}" "${JS[@]}" -d '{"Name":"Acme"'
expect_status 400 "malformed JSON"
expect_json 'j[0]["errorCode"]=="JSON_PARSER_ERROR"' "malformed JSON is JSON_PARSER_ERROR"
req POST "$B/sobjects/Account" "${AUTH[@]}" "${JS[@]}" --data-binary $'{"Name":"\xff\xfe"}'
expect_status 400 "invalid UTF-8 refused"
req POST "$B/sobjects/Accout" "${AUTH[@]}" "${JS[@]}" -d '{"Name":"x"}'
expect_status 404 "unknown object"
expect_json 'j[0]["errorCode"]=="NOT_FOUND"' "unknown object is NOT_FOUND"
req POST "$B/sobjects/Account" "${AUTH[@]}" "${JS[@]}" -d '{"Name":"x","Bogus__c":1}'
expect_status 400 "unknown field"
expect_json 'j[0]["errorCode"]=="INVALID_FIELD"' "unknown field is INVALID_FIELD"
head -c 11000000 /dev/zero | tr '\0' 'a' >"$WORK/big"
req POST "$B/sobjects/Account" "${AUTH[@]}" "${JS[@]}" --data-binary @"$WORK/big"
expect_status 413 "body over the JSON limit"
req GET "$U/__emu/counters"
expect_json 'j.get("api_used",0) >= 1' "counters count API calls"

# nothing above created a record
req GET "$B/query?q=SELECT+COUNT()+FROM+Account" "${AUTH[@]}"
expect_json 'j["totalSize"]==0' "bad requests changed nothing"

# lower-case object names and a leading // in the path
req POST "$U//services/data/v62.0/sobjects/account" "${AUTH[@]}" "${JS[@]}" -d '{"Name":"Lower"}'
expect_status 201 "lower-case object name and leading //"
id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$BODY")
req GET "$B/sobjects/Account/${id:0:15}?fields=Name" "${AUTH[@]}"
expect_status 200 "15-character id accepted"
expect_json "j['Name']=='Lower' and j['attributes']['url'].endswith('$id')" "record rendered with 18-character id"
req PATCH "$B/sobjects/Account/$id" "${AUTH[@]}" "${JS[@]}" -H 'Transfer-Encoding: chunked' -d '{"Name":"Chunked"}'
expect_status 204 "chunked PATCH body"
req GET "$B/sobjects/Account/$id?fields=Name" "${AUTH[@]}"
expect_json 'j["Name"]=="Chunked"' "chunked update applied"

# faults
req POST "$U/__emu/faults" "${JS[@]}" -d '{"rate_503":1000}'
expect_status 200 "fault injection on"
req GET "$B/sobjects/Account/$id" "${AUTH[@]}"
expect_status 503 "injected 503"
req POST "$U/__emu/faults" "${JS[@]}" -d '{"rate_503":0,"rate_lock":1000}'
req PATCH "$B/sobjects/Account/$id" "${AUTH[@]}" "${JS[@]}" -d '{"Name":"Locked"}'
expect_status 400 "injected lock failure"
expect_json 'j[0]["errorCode"]=="UNABLE_TO_LOCK_ROW"' "UNABLE_TO_LOCK_ROW shape"
req POST "$U/__emu/faults" "${JS[@]}" -d '{"rate_lock":0,"rate_drop":1000}'
req GET "$B/sobjects/Account/$id" "${AUTH[@]}"
expect_status 000 "dropped connection"
req POST "$U/__emu/faults" "${JS[@]}" -d '{"rate_drop":0,"rate_503":5000}'
expect_status 400 "fault rate out of bounds refused"
req POST "$U/__emu/faults" "${JS[@]}" -d '{"rate_drop":0}'
req GET "$B/sobjects/Account/$id?fields=Name" "${AUTH[@]}"
expect_json 'j["Name"]=="Chunked"' "faulted writes changed nothing"
# a lost answer: the write is made, only its answer is missing
req POST "$U/__emu/faults" "${JS[@]}" -d '{"rate_lost":1000}'
expect_json 'j["rate_lost"]==1000' "lost answers on"
req GET "$B/sobjects/Account/$id?fields=Name" "${AUTH[@]}"
expect_status 200 "a read is answered while answers to writes are lost"
req PATCH "$B/sobjects/Account/$id" "${AUTH[@]}" "${JS[@]}" -d '{"Name":"Made"}'
expect_status 000 "the answer to a write is lost"
req POST "$U/__emu/faults" "${JS[@]}" -d '{"rate_lost":0}'
req GET "$B/sobjects/Account/$id?fields=Name" "${AUTH[@]}"
expect_json 'j["Name"]=="Made"' "the write whose answer was lost was made"
req GET "$U/__emu/counters"
expect_json 'j.get("fault.lost")==1 and j.get("fault.drop")==1 and j.get("fault.503")==1 and j.get("fault.lock")==1' "each injected fault is counted"
req PATCH "$B/sobjects/Account/$id" "${AUTH[@]}" "${JS[@]}" -d '{"Name":"Chunked"}'
expect_status 204 "answers come back when the fault is off"

# validation rules: deactivated and activated again, as an admin does
req POST "$U/__emu/validation" "${JS[@]}" -d '{"object":"Contract","active":"no"}'
expect_status 400 "validation: active must be a boolean"
req POST "$U/__emu/validation" "${JS[@]}" -d '{"object":"Contrat","active":false}'
expect_status 400 "validation: unknown object"
req POST "$U/__emu/validation" "${JS[@]}" -d '{"object":"Account","active":false}'
expect_status 400 "validation: an object without rules"
req POST "$U/__emu/validation" "${JS[@]}" -d '{"object":"Contract","active":false,"rule":1}'
expect_status 400 "validation: an unknown key"
req POST "$B/sobjects/Contract" "${AUTH[@]}" "${JS[@]}" -d "{\"AccountId\":\"$id\",\"SpecialTerms\":\"REJECT\"}"
expect_status 400 "the rule refuses a value"
expect_json 'j[0]["errorCode"]=="FIELD_CUSTOM_VALIDATION_EXCEPTION" and j[0]["message"]=="Special terms marked REJECT are not allowed on a contract"' "the rule's error and message"
req POST "$U/__emu/validation" "${JS[@]}" -d '{"object":"contract","active":false}'
expect_status 200 "validation rules deactivated"
expect_json 'j=={"object":"Contract","active":False,"rules":1}' "validation: the answer names the object and its rules"
req POST "$B/sobjects/Contract" "${AUTH[@]}" "${JS[@]}" -d "{\"AccountId\":\"$id\",\"SpecialTerms\":\"REJECT\"}"
expect_status 201 "a deactivated rule refuses nothing"
cid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$BODY")
req POST "$U/__emu/validation" "${JS[@]}" -d '{"object":"Contract","active":true}'
expect_status 200 "validation rules activated"
req PATCH "$B/sobjects/Contract/$cid" "${AUTH[@]}" "${JS[@]}" -d '{"Description":"x"}'
expect_status 400 "an active rule is evaluated on every write again"
req DELETE "$B/sobjects/Contract/$cid" "${AUTH[@]}"
expect_status 204 "clean up the contract"

# the daily limit: 60 calls were allowed; spend the rest
for _ in $(seq 60); do req GET "$B/limits" "${AUTH[@]}"; [ "$STATUS" = 403 ] && break; done
expect_status 403 "daily API limit reached"
expect_json 'j[0]["errorCode"]=="REQUEST_LIMIT_EXCEEDED"' "REQUEST_LIMIT_EXCEEDED"
req POST "$U/__emu/limits" "${JS[@]}" -d '{"used":0}'
req GET "$B/limits" "${AUTH[@]}" -D "$WORK/headers"
expect_status 200 "limit reset"
if grep -qi '^Sforce-Limit-Info: api-usage=1/60' "$WORK/headers"; then ok "Sforce-Limit-Info header"; else bad "Sforce-Limit-Info header: $(cat "$WORK/headers")"; fi

# lost change events: /__emu/gap with "apply" commits the change and publishes only its gap event
req POST "$B/sobjects/Account" "${AUTH[@]}" "${JS[@]}" -d '{"Name":"Before the gap"}'
gid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$BODY")
req GET "$U/__emu/events"
last=$(python3 -c 'import json,sys; e=json.loads(sys.argv[1]); print(e[-1]["replayId"] if e else 0)' "$BODY")
req POST "$U/__emu/gap" "${JS[@]}" -d '{"entity":"Account","changeType":"GAP_UPDATE","recordId":"'"$gid"'","apply":{"Name":"In the gap"}}'
expect_status 200 "a change whose event is lost"
req GET "$U/__emu/events"
expect_json "[(e['payload']['ChangeEventHeader']['changeType'], e['payload']['ChangeEventHeader']['recordIds'], sorted(e['payload'])) for e in j if e['replayId'] > $last] == [('GAP_UPDATE', ['$gid'], ['ChangeEventHeader'])]" \
	"only a header-only GAP_UPDATE was published"
req GET "$B/sobjects/Account/$gid?fields=Name" "${AUTH[@]}"
expect_json 'j["Name"]=="In the gap"' "the change itself committed"
for bad in \
	'{"entity":"Account","changeType":"GAP_UPDATE","recordId":"'"$gid"'","apply":{"Name":"x"},"extra":1}' \
	'{"entity":"Account","changeType":"GAP_SIDEWAYS","recordId":"'"$gid"'","apply":{"Name":"x"}}' \
	'{"entity":"Contract","changeType":"GAP_UPDATE","recordId":"'"$gid"'","apply":{"Name":"x"}}' \
	'{"entity":"Account","changeType":"GAP_CREATE","recordId":"'"$gid"'","apply":{"Name":"x"}}' \
	'{"entity":"Account","changeType":"GAP_DELETE","recordId":"'"$gid"'","apply":{"Name":"x"}}' \
	'{"entity":"Account","changeType":"GAP_OVERFLOW","apply":[]}' \
	'{"entity":"Account","changeType":"GAP_OVERFLOW","apply":[{"Id":"'"$gid"'","Name":"x"},{"Bogus__c":1}]}' \
	'{"entity":"Account","changeType":"GAP_UPDATE","recordId":"'"$gid"'","apply":{"Name":"x","Bogus__c":1}}'; do
	req POST "$U/__emu/gap" "${JS[@]}" -d "$bad"
	expect_status 400 "gap refused: ${bad:0:100}"
done
req GET "$U/__emu/events"
expect_json "[e for e in j if e['replayId'] > $last + 1] == []" "refused gaps published nothing"
req GET "$U/__emu/events?after=$last"
expect_json "[e['replayId'] for e in j] == [$last + 1]" "?after=N lists only the events past replay id N"
req GET "$B/sobjects/Account/$gid?fields=Name" "${AUTH[@]}"
expect_json 'j["Name"]=="In the gap"' "refused gaps changed nothing (an overflow is all or nothing)"

# session expiry
req POST "$U/services/oauth2/token" -d grant_type=client_credentials -d client_id=clmsync-test-client -d client_secret=clmsync-test-secret
expect_status 200 "client credentials (form)"
tok=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["access_token"])' "$BODY")
req POST "$U/services/oauth2/token" -u clmsync-test-client:clmsync-test-secret -d grant_type=client_credentials
expect_status 200 "client credentials (HTTP Basic)"
expect_json 'j["id"].endswith("/00D000000000001AAA/005000000000001AAA") and j["token_type"]=="Bearer" and j["issued_at"].isdigit()' "token response shape"
req POST "$U/services/oauth2/token" -d grant_type=password -d username=integration@clmsync.test -d password=wrong -d client_id=clmsync-test-client -d client_secret=clmsync-test-secret
expect_status 400 "wrong password"
expect_json 'j["error"]=="invalid_grant"' "wrong password is invalid_grant"
req POST "$U/services/oauth2/token" -d grant_type=refresh_token -d refresh_token=clmsync-test-refresh-token -d client_id=clmsync-test-client
expect_status 200 "refresh token"
req GET "$B/limits" -H "Authorization: Bearer $tok"
expect_status 200 "issued token works"
req POST "$U/__emu/expire-sessions"
req GET "$B/limits" -H "Authorization: Bearer $tok"
expect_status 401 "expired session"

finish
