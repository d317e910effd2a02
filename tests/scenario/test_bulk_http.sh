#!/usr/bin/env bash
# Bulk API 2.0 over HTTP against the real sfemu: ingest lifecycle with a chunked upload, result
# files, job errors, query jobs with locator paging, and a reset and an abort while a large
# job is being processed.
. "$(dirname "$0")/lib.sh"

BIG_ROWS=30000   # enough rows that processing spans many lock hand-offs

start_sfemu a --access-token T
U=$URL_a
B=$U/services/data/v62.0
AUTH=(-H "Authorization: Bearer T")
JS=(-H "Content-Type: application/json")
CSV=(-H "Content-Type: text/csv")

# new_job BODY: creates an ingest job and sets JOB.
new_job() {
	req POST "$B/jobs/ingest" "${AUTH[@]}" "${JS[@]}" -d "$1"
	JOB=$(BODY="$BODY" python3 -c 'import json,os; print(json.loads(os.environ["BODY"])["id"])')
}

# wait_state WANT: polls the job until its state is WANT (deadline 20 s).
wait_state() {
	local deadline=$((SECONDS + 20)) st=""
	while [ $SECONDS -lt $deadline ]; do
		req GET "$B/jobs/ingest/$JOB" "${AUTH[@]}"
		st=$(BODY="$BODY" python3 -c 'import json,os; print(json.loads(os.environ["BODY"]).get("state",""))' 2>/dev/null || true)
		[ "$st" = "$1" ] && return 0
		sleep 0.05
	done
	echo "job $JOB stuck in '$st', wanted $1"
	return 1
}

# ---- ingest lifecycle ----
new_job '{"object":"Account","operation":"insert","lineEnding":"LF","columnDelimiter":"COMMA"}'
expect_status 200 "create ingest job"
expect_json 'j["state"]=="Open" and j["id"].startswith("750") and len(j["id"])==18' "job is Open with a 750 id"
expect_json "j['contentUrl']=='services/data/v62.0/jobs/ingest/'+j['id']+'/batches' and j['apiVersion']==62.0" "contentUrl has no leading slash, apiVersion is a number"
printf 'Name,NumberOfEmployees,AnnualRevenue,Description\nAcme,10,912260031,"two\nlines, ""quoted"""\nBad,ten,1,x\n,1,1,no name\n' >"$WORK/a.csv"
req PUT "$B/jobs/ingest/$JOB/batches" "${AUTH[@]}" "${CSV[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/a.csv"
expect_status 201 "chunked CSV upload"
[ -z "$BODY" ] && ok "upload answers no body" || bad "upload body: $BODY"
req PATCH "$B/jobs/ingest/$JOB" "${AUTH[@]}" "${JS[@]}" -d '{"state":"UploadComplete"}'
expect_status 200 "close the job"
expect_json 'j["state"]=="UploadComplete" and "lineEnding" not in j' "PATCH answers the short job info"
wait_state JobComplete && ok "job completes"
expect_json 'j["numberRecordsProcessed"]==3 and j["numberRecordsFailed"]==2 and j["jobType"]=="V2Ingest" and j["retries"]==0 and "contentUrl" not in j' "counts and fields of a finished job"
req GET "$B/jobs/ingest/$JOB/successfulResults/" "${AUTH[@]}"
expect_status 200 "successful results"
want=$'"sf__Id","sf__Created",Name,NumberOfEmployees,AnnualRevenue,Description\n'
[ "${BODY:0:${#want}}" = "$want" ] && ok "successful results header" || bad "successful header: ${BODY:0:100}"
case "$BODY" in *'"true","Acme","10","9.12260031E8","two'*) ok "doubles re-rendered as Salesforce does";; *) bad "row: $BODY";; esac
req GET "$B/jobs/ingest/$JOB/failedResults/" "${AUTH[@]}"
case "$BODY" in *"xsd:int:NumberOfEmployees --"*"REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --"*) ok "failed rows carry sf__Error";; *) bad "failed: $BODY";; esac
req GET "$B/jobs/ingest/$JOB/unprocessedRecords/" "${AUTH[@]}"
[ "$BODY" = "Name,NumberOfEmployees,AnnualRevenue,Description" ] && ok "unprocessedRecords (capital R) has only the header" || bad "unprocessed: $BODY"
req GET "$B/jobs/ingest" "${AUTH[@]}"
expect_json 'j["done"] and j["nextRecordsUrl"] is None and len(j["records"])==1' "list ingest jobs"
req DELETE "$B/jobs/ingest/$JOB" "${AUTH[@]}"
expect_status 204 "delete a finished job"
req GET "$B/jobs/ingest/$JOB" "${AUTH[@]}"
expect_status 404 "deleted job is gone"
expect_json 'j[0]["errorCode"]=="NOT_FOUND" and j[0]["message"]=="The requested resource does not exist"' "404 body"

# ---- job errors ----
req POST "$B/jobs/ingest" "${AUTH[@]}" "${JS[@]}" -d '{"object":"Acount","operation":"insert"}'
expect_status 400 "unknown object"
expect_json 'j[0]["errorCode"]=="INVALIDJOB"' "unknown object is INVALIDJOB"
req POST "$B/jobs/ingest" "${AUTH[@]}" "${JS[@]}" -d '{"object":"Account","operation":"upsert"}'
expect_status 400 "upsert without externalIdFieldName"
new_job '{"object":"Account","operation":"insert"}'
req PUT "$B/jobs/ingest/$JOB/batches" "${AUTH[@]}" "${CSV[@]}" --data-binary $'Name\nx\n'
req PUT "$B/jobs/ingest/$JOB/batches" "${AUTH[@]}" "${CSV[@]}" --data-binary $'Name\ny\n'
expect_status 201 "a second PUT is accepted"
req PATCH "$B/jobs/ingest/$JOB" "${AUTH[@]}" "${JS[@]}" -d '{"state":"UploadComplete"}'
expect_status 400 "closing a job with two uploads"
expect_json 'j[0]["errorCode"]=="INVALIDJOB" and "only do \u0027PUT\u0027 once" in j[0]["message"]' "two uploads are INVALIDJOB"
req DELETE "$B/jobs/ingest/$JOB" "${AUTH[@]}"
expect_status 400 "an Open job cannot be deleted"
req PATCH "$B/jobs/ingest/$JOB" "${AUTH[@]}" "${JS[@]}" -d '{"state":"Aborted"}'
expect_status 200 "abort an Open job"
req PATCH "$B/jobs/ingest/$JOB" "${AUTH[@]}" "${JS[@]}" -d '{"state":"Aborted"}'
expect_json 'j[0]["errorCode"]=="INVALIDJOBSTATE" and j[0]["message"]=="Aborting already Aborted Job not allowed"' "abort twice is INVALIDJOBSTATE"
req PUT "$B/jobs/ingest/$JOB/batches" "${AUTH[@]}" "${CSV[@]}" --data-binary $'Name\nz\n'
expect_status 400 "no upload after abort"
new_job '{"object":"Account","operation":"insert"}'
req PUT "$B/jobs/ingest/$JOB/batches" "${AUTH[@]}" "${CSV[@]}" --data-binary $'Name\r\nx\r\n'
req PATCH "$B/jobs/ingest/$JOB" "${AUTH[@]}" "${JS[@]}" -d '{"state":"UploadComplete"}'
wait_state Failed && ok "CRLF data in an LF job fails"
expect_json '"LineEnding is invalid on user data" in j["errorMessage"]' "errorMessage names the line ending"
req POST "$B/jobs/ingest/$JOB/batches" "${AUTH[@]}"
expect_status 405 "POST on batches"

# ---- query jobs ----
req GET "$B/query?q=SELECT+COUNT()+FROM+Account" "${AUTH[@]}"
expect_json 'j["totalSize"]==1' "one Account from the first job"
new_job '{"object":"Account","operation":"insert"}'
python3 -c 'print("Name,NumberOfEmployees"); [print(f"Q{i:02d},{i}") for i in range(25)]' >"$WORK/q.csv"
req PUT "$B/jobs/ingest/$JOB/batches" "${AUTH[@]}" "${CSV[@]}" --data-binary @"$WORK/q.csv"
req PATCH "$B/jobs/ingest/$JOB" "${AUTH[@]}" "${JS[@]}" -d '{"state":"UploadComplete"}'
wait_state JobComplete
req POST "$B/jobs/query" "${AUTH[@]}" "${JS[@]}" -d '{"operation":"query","query":"SELECT Id, name, NumberOfEmployees, Owner.Name FROM Account WHERE Name LIKE '"'"'Q%'"'"' ORDER BY Name"}'
expect_status 200 "create query job"
expect_json 'j["state"]=="UploadComplete" and j["operation"]=="query" and j["object"]=="Account"' "query job info"
QJ=$(BODY="$BODY" python3 -c 'import json,os; print(json.loads(os.environ["BODY"])["id"])')
req GET "$B/jobs/query/$QJ" "${AUTH[@]}"
expect_json 'j["state"]=="JobComplete" and j["jobType"]=="V2Query" and j["numberRecordsProcessed"]==25' "query job completes"
loc="" pages=0 rows=0
while :; do
	url="$B/jobs/query/$QJ/results?maxRecords=10"
	[ -n "$loc" ] && url="$url&locator=$loc"
	curl -s -D "$WORK/h" -o "$WORK/page" "${AUTH[@]}" -H 'Accept: text/csv' "$url"
	n=$(grep -i '^Sforce-NumberOfRecords:' "$WORK/h" | tr -d '\r' | awk '{print $2}')
	loc=$(grep -i '^Sforce-Locator:' "$WORK/h" | tr -d '\r' | awk '{print $2}')
	head -1 "$WORK/page" | grep -qx '"Id","Name","NumberOfEmployees","Owner.Name"' || bad "page header: $(head -1 "$WORK/page")"
	pages=$((pages + 1)); rows=$((rows + n))
	[ "$(($(wc -l <"$WORK/page") - 1))" = "$n" ] || bad "page $pages: $n records announced"
	[ "$loc" = null ] || [ $pages -gt 5 ] && break
done
[ $pages = 3 ] && [ $rows = 25 ] && ok "25 rows in 3 pages, last Sforce-Locator null" || bad "pages=$pages rows=$rows loc=$loc"
grep -q '"Q24","24","Sync Integration"' "$WORK/page" && ok "parent field column" || bad "last page: $(cat "$WORK/page")"
req GET "$B/jobs/query/$QJ/results?locator=bogus" "${AUTH[@]}"
expect_status 400 "bad locator"
req PATCH "$B/jobs/query/$QJ" "${AUTH[@]}" "${JS[@]}" -d '{"state":"Aborted"}'
expect_json 'j[0]["errorCode"]=="INVALIDJOBSTATE" and j[0]["message"]=="Aborting already Completed Job not allowed"' "abort a finished query job"
req POST "$B/jobs/query" "${AUTH[@]}" "${JS[@]}" -d '{"operation":"query","query":"SELECT COUNT() FROM Account"}'
expect_status 400 "aggregate query refused"
req POST "$B/jobs/query" "${AUTH[@]}" "${JS[@]}" -d '{"operation":"query","query":"SELECT Nope FROM Account"}'
expect_status 400 "bad field"
expect_json 'j[0]["errorCode"]=="INVALID_FIELD"' "bad field is INVALID_FIELD"
req DELETE "$B/jobs/query/$QJ" "${AUTH[@]}"
expect_status 204 "delete query job"

# ---- a reset, then an abort, while a large job runs ----
# a busy org: 20 ms more after each chunk of 200 records, so that the job runs for 3 s or more
# however fast the machine, and the checks below meet it running
python3 -c "print('Name,Description'); [print(f'Big {i},\"d, {i}\"') for i in range($BIG_ROWS)]" >"$WORK/big.csv"
req POST "$U/__emu/faults" "${JS[@]}" -d '{"bulk_chunk_ms":20}'
expect_json 'j["bulk_chunk_ms"]==20 and j["rate_503"]==0' "sfemu paces Bulk processing (bulk_chunk_ms)"
req POST "$U/__emu/faults" "${JS[@]}" -d '{"bulk_chunk_ms":10001}'
expect_status 400 "bulk_chunk_ms past 10000 is refused"
new_job '{"object":"Account","operation":"insert"}'
req PUT "$B/jobs/ingest/$JOB/batches" "${AUTH[@]}" "${CSV[@]}" --data-binary @"$WORK/big.csv"
curl -s -o /dev/null -X PATCH "${AUTH[@]}" "${JS[@]}" -d '{"state":"UploadComplete"}' "$B/jobs/ingest/$JOB" &
closer=$!
wait_state InProgress && ok "a large job is seen InProgress"
req DELETE "$B/jobs/ingest/$JOB" "${AUTH[@]}"
expect_status 400 "a running job cannot be deleted"
req POST "$U/__emu/reset"
expect_status 200 "reset while a job runs"
wait "$closer" || true
req GET "$B/jobs/ingest/$JOB" "${AUTH[@]}"
expect_status 404 "the job went with the reset"
req GET "$B/query?q=SELECT+COUNT()+FROM+Account" "${AUTH[@]}"
expect_json 'j["totalSize"] < 1000' "processing stopped after the reset"

req POST "$U/__emu/faults" "${JS[@]}" -d '{"bulk_chunk_ms":20}'   # the reset cleared it
new_job '{"object":"Account","operation":"insert"}'
req PUT "$B/jobs/ingest/$JOB/batches" "${AUTH[@]}" "${CSV[@]}" --data-binary @"$WORK/big.csv"
curl -s -o /dev/null -X PATCH "${AUTH[@]}" "${JS[@]}" -d '{"state":"UploadComplete"}' "$B/jobs/ingest/$JOB" &
closer=$!
wait_state InProgress
req PATCH "$B/jobs/ingest/$JOB" "${AUTH[@]}" "${JS[@]}" -d '{"state":"Aborted"}'
expect_status 200 "abort a running job"
wait "$closer" || true
wait_state Aborted && ok "the running job stops as Aborted"
done_n=$(BODY="$BODY" python3 -c 'import json,os; print(json.loads(os.environ["BODY"])["numberRecordsProcessed"])')
req GET "$B/jobs/ingest/$JOB/unprocessedrecords" "${AUTH[@]}"
left=$(($(printf '%s\n' "$BODY" | wc -l) - 1))
[ $((done_n + left)) = $BIG_ROWS ] && [ "$left" -gt 0 ] && ok "processed ($done_n) + unprocessed ($left) = all rows" || bad "processed $done_n + unprocessed $left != $BIG_ROWS"
kill -0 "$PID_a" && ok "sfemu still running"

finish
